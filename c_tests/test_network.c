/*
 * The network sources from C: HTTP and JSON-RPC against a small HTTP server
 * this program runs on loopback, and the configuration that goes with them
 * (headers, retries, RPC endpoints, trusted state, per-load state root).
 * The real node (anvil) is exercised by the Rust tests; here the C ABI.
 */
#include "ebc_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

static uint8_t *weth9;
static size_t weth9_len;

/* ---- a one-connection-at-a-time HTTP server ---------------------------- */

typedef struct server {
    int fd;
    uint16_t port;
    pthread_t thread;
    volatile int stop;
} server;

static void send_all(int fd, const void *data, size_t len) {
    const char *p = (const char *)data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

static void respond(int fd, int status, const char *type, const void *body, size_t len) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, type, len);
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

/* The JSON-RPC id of a request body ("id":N), or 0. */
static long rpc_id(const char *body) {
    const char *p = strstr(body, "\"id\":");
    return p == NULL ? 0 : strtol(p + 5, NULL, 10);
}

static void answer(int fd, const char *request, const char *body) {
    char json[512];
    if (strncmp(request, "GET /weth9 ", 11) == 0) {
        respond(fd, 200, "application/octet-stream", weth9, weth9_len);
    } else if (strncmp(request, "GET /secret ", 12) == 0) {
        if (strstr(request, "\r\nX-Api-Key: k1\r\n") != NULL || strstr(request, "\r\nx-api-key: k1\r\n") != NULL) {
            respond(fd, 200, "text/plain", "0x6001600201", 12);
        } else {
            respond(fd, 401, "text/plain", "no", 2);
        }
    } else if (strncmp(request, "POST ", 5) == 0 && strstr(body, "eth_getCode") != NULL) {
        int n = snprintf(json, sizeof json, "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"result\":\"0x6001600201\"}",
                         rpc_id(body));
        respond(fd, 200, "application/json", json, (size_t)n);
    } else if (strncmp(request, "POST ", 5) == 0 && strstr(body, "eth_getProof") != NULL) {
        /* A proof that cannot be of any root but keccak256(0xc0). */
        int n = snprintf(json, sizeof json,
                         "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"result\":{\"accountProof\":[\"0xc0\"],"
                         "\"codeHash\":\"0x%064d\"}}",
                         rpc_id(body), 0);
        respond(fd, 200, "application/json", json, (size_t)n);
    } else {
        respond(fd, 404, "text/plain", "?", 1);
    }
}

static void *serve(void *arg) {
    server *s = (server *)arg;
    while (!s->stop) {
        char buf[8192];
        size_t used = 0;
        char *end;
        long length = 0;
        const char *cl;
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0) continue;
        if (s->stop) {
            close(fd);
            break;
        }
        /* Headers, then the body by Content-Length. */
        while (used < sizeof buf - 1) {
            ssize_t n = recv(fd, buf + used, sizeof buf - 1 - used, 0);
            if (n <= 0) break;
            used += (size_t)n;
            buf[used] = '\0';
            end = strstr(buf, "\r\n\r\n");
            if (end == NULL) continue;
            cl = strstr(buf, "ontent-Length: ");
            if (cl == NULL) cl = strstr(buf, "ontent-length: ");
            length = cl == NULL ? 0 : strtol(cl + 15, NULL, 10);
            if ((size_t)(end + 4 - buf) + (size_t)length <= used) break;
        }
        buf[used] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end != NULL) {
            end[2] = '\0'; /* headers end with one CRLF */
            answer(fd, buf, end + 4);
        }
        close(fd);
    }
    return NULL;
}

static void server_start(server *s) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int one = 1;
    memset(s, 0, sizeof *s);
    memset(&addr, 0, sizeof addr);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(s->fd >= 0);
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    CHECK(bind(s->fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(listen(s->fd, 16) == 0);
    CHECK(getsockname(s->fd, (struct sockaddr *)&addr, &len) == 0);
    s->port = ntohs(addr.sin_port);
    CHECK(pthread_create(&s->thread, NULL, serve, s) == 0);
}

static void server_stop(server *s) {
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    s->stop = 1;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(s->port);
    if (fd >= 0) {
        (void)connect(fd, (struct sockaddr *)&addr, sizeof addr); /* wakes accept */
        close(fd);
    }
    pthread_join(s->thread, NULL);
    close(s->fd);
}

/* ---- tests --------------------------------------------------------------- */

static const uint8_t SMALL[] = {0x60, 0x01, 0x60, 0x02, 0x01};

static void test_http(const server *s) {
    char uri[128];
    ebc_manager *m = t_manager_with(EBC_PRESET_TESTING, EBC_SECURITY_STANDARD, 0, 0);
    ebc_address a = t_addr(0x71, 1);
    const ebc_bytecode *b = NULL;
    ebc_error *err = NULL;
    ebc_hash hash;

    snprintf(uri, sizeof uri, "http://127.0.0.1:%u/weth9", (unsigned)s->port);
    CHECK_OK(t_load(m, &a, uri, NULL, &b, &err), err);
    CHECK(t_code_is(b, weth9, weth9_len));
    ebc_bytecode_code_hash(b, &hash);
    CHECK(t_hash_is(&hash, T_WETH9_CODE_HASH));
    CHECK(ebc_bytecode_load_method(b) == EBC_LOADER_HTTP);
    ebc_release(b);

    /* 404 is NOT_FOUND and names the URI; nothing is cached. */
    a = t_addr(0x71, 2);
    snprintf(uri, sizeof uri, "http://127.0.0.1:%u/missing", (unsigned)s->port);
    CHECK_FAIL(t_load(m, &a, uri, NULL, &b, &err), EBC_NOT_FOUND, err);
    CHECK_MSG(err, "/missing");
    t_clear(&err);
    CHECK(ebc_get(m, &a) == NULL);
    ebc_manager_free(m);
}

static void test_headers(const server *s) {
    char uri[128];
    ebc_config *c = ebc_config_new(EBC_PRESET_TESTING);
    ebc_manager *bare = t_manager_with(EBC_PRESET_TESTING, EBC_SECURITY_BASIC, 0, 0);
    ebc_manager *m;
    ebc_address a = t_addr(0x72, 1);
    const ebc_bytecode *b = NULL;
    ebc_error *err = NULL;

    snprintf(uri, sizeof uri, "http://127.0.0.1:%u/secret", (unsigned)s->port);
    CHECK_FAIL(t_load(bare, &a, uri, NULL, &b, &err), EBC_IO, err);
    CHECK_MSG(err, "401");
    t_clear(&err);
    ebc_manager_free(bare);

    CHECK_FAIL(ebc_config_add_http_header(c, "Bad Name", 8, "v", 1, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL(ebc_config_add_http_header(c, "X-Api-Key", 9, "k1\r\nX: y", 8, &err), EBC_INVALID_ARGUMENT,
               err);
    t_clear(&err);
    CHECK_FAIL(ebc_config_add_http_header(NULL, "X", 1, "v", 1, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_FAIL(ebc_config_add_http_header(c, NULL, 1, "v", 1, &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_OK(ebc_config_add_http_header(c, "X-Api-Key", 9, "k1", 2, &err), err);
    CHECK_OK(ebc_config_set_http_retries(c, 0), NULL);
    CHECK(ebc_config_set_http_retries(NULL, 1) == EBC_NULL_PARAMETER);
    m = t_manager(c);
    ebc_config_free(c);
    CHECK_OK(t_load(m, &a, uri, NULL, &b, &err), err);
    CHECK(t_code_is(b, SMALL, sizeof SMALL));
    ebc_release(b);
    ebc_manager_free(m);
}

static void test_jsonrpc(const server *s) {
    char url[128];
    ebc_config *c = ebc_config_new(EBC_PRESET_TESTING);
    ebc_manager *m;
    ebc_address a = t_addr(0x73, 1);
    const ebc_bytecode *b = NULL;
    ebc_error *err = NULL;
    ebc_load_options *o;
    ebc_hash root;

    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)s->port);
    CHECK_FAIL(ebc_config_add_rpc_endpoint(c, "ftp://x", 7, &err), EBC_INVALID_ARGUMENT, err);
    CHECK_MSG(err, "ftp://x");
    t_clear(&err);
    CHECK_FAIL(ebc_config_add_rpc_endpoint(c, "", 0, &err), EBC_INVALID_ARGUMENT, err);
    t_clear(&err);
    CHECK_FAIL(ebc_config_add_rpc_endpoint(NULL, url, strlen(url), &err), EBC_NULL_PARAMETER, err);
    t_clear(&err);
    CHECK_OK(ebc_config_add_rpc_endpoint(c, url, strlen(url), &err), err);
    CHECK_OK(ebc_config_set_default_source(c, "jsonrpc:", 8, &err), err);

    /* The default source: any address, lazily, from the node. */
    m = t_manager(c);
    CHECK_OK(t_load(m, &a, NULL, NULL, &b, &err), err);
    CHECK(t_code_is(b, SMALL, sizeof SMALL));
    CHECK(ebc_bytecode_load_method(b) == EBC_LOADER_JSONRPC);
    ebc_release(b);

    /* A per-load state root the node's proof cannot match. */
    o = ebc_load_options_new();
    t_parse_hash("1111111111111111111111111111111111111111111111111111111111111111", &root);
    CHECK_OK(ebc_load_options_set_state_root(o, &root), NULL);
    CHECK(ebc_load_options_set_state_root(NULL, &root) == EBC_NULL_PARAMETER);
    a = t_addr(0x73, 2);
    CHECK_FAIL(t_load(m, &a, NULL, o, &b, &err), EBC_SECURITY_VIOLATION, err);
    CHECK_MSG(err, "state proof");
    t_clear(&err);
    CHECK(ebc_get(m, &a) == NULL);
    CHECK_OK(ebc_load_options_set_state_root(o, NULL), NULL); /* cleared */
    CHECK_OK(t_load(m, &a, NULL, o, &b, &err), err);
    ebc_release(b);
    ebc_load_options_free(o);
    ebc_manager_free(m);

    /* The same through the configuration's trusted state. */
    CHECK_OK(ebc_config_set_trusted_state(c, 7, &root), NULL);
    CHECK(ebc_config_set_trusted_state(NULL, 7, &root) == EBC_NULL_PARAMETER);
    m = t_manager(c);
    a = t_addr(0x73, 3);
    CHECK_FAIL(t_load(m, &a, NULL, NULL, &b, &err), EBC_SECURITY_VIOLATION, err);
    t_clear(&err);
    ebc_manager_free(m);
    CHECK_OK(ebc_config_set_trusted_state(c, 0, NULL), NULL); /* removed */
    m = t_manager(c);
    CHECK_OK(t_load(m, &a, NULL, NULL, &b, &err), err);
    ebc_release(b);
    ebc_manager_free(m);

    /* No endpoints configured: the loader says so. */
    ebc_config_free(c);
    c = ebc_config_new(EBC_PRESET_TESTING);
    m = t_manager(c);
    CHECK_FAIL(t_load(m, &a, "jsonrpc:", NULL, &b, &err), EBC_LOADER_NOT_FOUND, err);
    CHECK_MSG(err, "rpc_endpoints");
    t_clear(&err);
    ebc_manager_free(m);
    ebc_config_free(c);
}

int main(void) {
    server s;
    weth9 = t_read_file(EBC_TEST_WETH9, &weth9_len);
    server_start(&s);
    test_http(&s);
    test_headers(&s);
    test_jsonrpc(&s);
    server_stop(&s);
    free(weth9);
    printf("test_network: ok\n");
    return 0;
}

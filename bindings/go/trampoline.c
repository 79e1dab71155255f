// The C side of Go loaders: ebc calls these with the loader's user data, a
// malloc'd uintptr_t holding a runtime/cgo.Handle (never a Go pointer), and
// they call the exported Go functions in loader.go.
#include <stdint.h>
#include <stdlib.h>

#include "_cgo_export.h"

static ebc_status ebc_go_fetch(void *user_data, const ebc_load_request *request, ebc_sink *sink) {
    return ebcGoFetch(*(uintptr_t *)user_data, (ebc_load_request *)request, sink);
}

static void ebc_go_free(void *user_data) {
    ebcGoRelease(*(uintptr_t *)user_data);
    free(user_data);
}

ebc_status ebc_go_register_loader(ebc_manager *m, const char *scheme, size_t scheme_len, uintptr_t handle,
                                  ebc_error **err) {
    uintptr_t *box;
    if (m == NULL) {  // ebc would not take the user data then
        ebcGoRelease(handle);
        return EBC_NULL_PARAMETER;
    }
    box = (uintptr_t *)malloc(sizeof *box);
    if (box == NULL) {
        ebcGoRelease(handle);
        return EBC_IO;
    }
    *box = handle;
    // From here ebc owns `box`: ebc_go_free runs once, also when this fails.
    return ebc_register_loader(m, scheme, scheme_len, ebc_go_fetch, box, ebc_go_free, err);
}

// A trustless IPFS gateway on loopback, for the ebc tests: imports every
// file of a directory with the reference UnixFS importer, writes a CAR file
// of each import beside it, and serves the blocks as
//   GET /<mode>/ipfs/<cid>?format=raw   (application/vnd.ipld.raw)
//   GET /<mode>/ipfs/<cid>?format=car   (application/vnd.ipld.car)
// where <mode> makes it honest or hostile (modes combine with '+', e.g.
// raw-only+wrong-block):
//   ok             serves what was asked
//   raw-only       refuses CAR requests (406), as a gateway without CAR
//   wrong-block    serves another block's bytes in place of the one asked
//                  for (raw), or under the asked-for block's CID (CAR)
//   truncated-car  cuts the CAR response in the middle of a block
//   hang           reads the request and never answers
//   endless        answers 200 and streams bytes forever
//
// Usage: node ipfs-gateway.mjs <dir>. Prints one JSON line once listening:
//   {"port": N, "files": {"<name>": {"<layout>": "<cid>", ...}, ...},
//    "sharded": "<cid>", "sub_shards": <buckets of its root that are sub-shards>}
// Layouts: v0 (`ipfs add`: CIDv0, dag-pb leaves, 256 KiB chunks), v1
// (CIDv1, raw leaves, 1 MiB chunks), and v0-small / v1-small, the same
// with 1 KiB chunks and at most 4 links per node, so that even a small
// file is a DAG several levels deep; and dir, the v1 file wrapped in a
// directory, to be named as <cid>/<name>. "sharded" is a HAMT-sharded
// directory of every file and 400 fillers, also named as <cid>/<name>.
import { createServer } from 'node:http';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importer } from 'ipfs-unixfs-importer';
import { fixedSize } from 'ipfs-unixfs-importer/chunker';
import { balanced } from 'ipfs-unixfs-importer/layout';
import { MemoryBlockstore } from 'blockstore-core/memory';
import { CarWriter } from '@ipld/car/writer';
import * as dagPb from '@ipld/dag-pb';
import { UnixFS } from 'ipfs-unixfs';
import { CID } from 'multiformats/cid';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node ipfs-gateway.mjs <dir>');
  process.exit(2);
}

const blockstore = new MemoryBlockstore();
const small = { chunker: fixedSize({ chunkSize: 1024 }), layout: balanced({ maxChildrenPerNode: 4 }) };
const layouts = {
  v0: { profile: 'unixfs-v0-2015' },
  v1: { profile: 'unixfs-v1-2025' },
  'v0-small': { profile: 'unixfs-v0-2015', ...small },
  'v1-small': { profile: 'unixfs-v1-2025', ...small },
};

async function getBlock(cid) {
  const got = blockstore.get(cid);
  if (got instanceof Uint8Array) return got;
  if (got && typeof got.then === 'function') return await got;
  // Newer blockstores yield the block in chunks.
  const parts = [];
  for await (const part of got) parts.push(part);
  return Buffer.concat(parts);
}

// The blocks of the DAG under `root`, depth first, as the gateway spec orders them.
async function dagBlocks(root) {
  const out = [];
  const walk = async (cid) => {
    const bytes = await getBlock(cid);
    out.push({ cid, bytes });
    if (cid.code === dagPb.code) {
      for (const link of dagPb.decode(bytes).Links) await walk(link.Hash);
    }
  };
  await walk(root);
  return out;
}

async function carBytes(root, blocks) {
  const { writer, out } = CarWriter.create([root]);
  const chunks = [];
  const collect = (async () => { for await (const c of out) chunks.push(c); })();
  for (const block of blocks) await writer.put(block);
  await writer.close();
  await collect;
  return Buffer.concat(chunks);
}

const files = {};
for (const name of readdirSync(dir).sort()) {
  if (name.endsWith('.car')) continue;
  const content = readFileSync(join(dir, name));
  files[name] = {};
  for (const [layout, options] of Object.entries(layouts)) {
    let root;
    for await (const entry of importer([{ content }], blockstore, { ...options })) root = entry.cid;
    files[name][layout] = root.toString();
    writeFileSync(join(dir, `${name}.${layout}.car`), await carBytes(root, await dagBlocks(root)));
  }
  let wrapped;
  for await (const entry of importer([{ path: name, content }], blockstore, { profile: 'unixfs-v1-2025', wrapWithDirectory: true })) {
    wrapped = entry.cid;
  }
  files[name].dir = wrapped.toString();
}

// Every file again, with 400 small filler entries, in one directory sharded
// (HAMT) from its first entry on: with 256 buckets some hold several
// entries and become sub-shards, so a path is followed two levels deep.
const entries = readdirSync(dir).filter((name) => !name.endsWith('.car')).sort()
  .map((name) => ({ path: `sharded/${name}`, content: readFileSync(join(dir, name)) }));
for (let i = 0; i < 400; i++) entries.push({ path: `sharded/filler-${i}.txt`, content: Buffer.from(`filler ${i}\n`) });
let sharded;
for await (const entry of importer(entries, blockstore, { profile: 'unixfs-v1-2025', shardSplitThresholdBytes: 1 })) {
  if (entry.path === 'sharded') sharded = entry.cid;
}
const subShards = dagPb.decode(await getBlock(sharded)).Links.filter((l) => l.Name.length === 2).length;

// The link named `name` under the sharded directory node `node`, searched
// through every sub-shard by name, without hashing (so the client's hashing
// is checked against the importer's layout, not against the gateway's).
// Appends the sub-shard blocks on the way to `path`.
async function shardLinkWithPath(node, name, path) {
  const width = (Number(UnixFS.unmarshal(node.Data).fanout) - 1).toString(16).length;
  const entry = node.Links.find((l) => l.Name.length > width && l.Name.slice(width) === name);
  if (entry) return entry;
  for (const link of node.Links.filter((l) => l.Name.length === width)) {
    const bytes = await getBlock(link.Hash);
    const below = [];
    const found = await shardLinkWithPath(dagPb.decode(bytes), name, below);
    if (found) {
      path.push({ cid: link.Hash, bytes }, ...below);
      return found;
    }
  }
  return undefined;
}

// The blocks from `root` down `path` (directory entries by name, through
// sharded directories too) and the CID the path ends at.
async function resolvePath(root, path) {
  const blocks = [];
  let cid = root;
  for (const name of path) {
    const bytes = await getBlock(cid);
    blocks.push({ cid, bytes });
    let link;
    if (cid.code === dagPb.code) {
      const node = dagPb.decode(bytes);
      if (node.Data && UnixFS.unmarshal(node.Data).type === 'hamt-sharded-directory') {
        const path = [];
        link = await shardLinkWithPath(node, name, path);
        blocks.push(...path);
      } else {
        link = node.Links.find((l) => l.Name === name);
      }
    }
    if (!link) return { blocks, cid: undefined };
    cid = link.Hash;
  }
  return { blocks, cid };
}

// Another block than `cid`, of the same codec when there is one.
async function impostor(cid) {
  for await (const pair of blockstore.getAll()) {
    const other = pair.cid;
    if (!other.equals(cid) && other.code === cid.code) return getBlock(other);
  }
  return Buffer.from('not the block you asked for');
}

async function answer(req, res) {
  const url = new URL(req.url, 'http://gateway');
  const match = url.pathname.match(/^\/([a-z+-]+)\/ipfs\/([^/]+)((?:\/[^/]+)*)\/?$/);
  if (!match) { res.writeHead(400).end('expected /<mode>/ipfs/<cid>[/path]'); return; }
  const [, mode, text, rest] = match;
  const path = rest.split('/').filter((p) => p).map(decodeURIComponent);
  const modes = new Set(mode.split('+'));
  if (modes.has('hang')) return; // never answers
  if (modes.has('endless')) {
    res.writeHead(200, { 'Content-Type': 'application/vnd.ipld.car' });
    const chunk = Buffer.alloc(64 * 1024, 0x5b);
    const pump = () => { while (res.write(chunk)) { /* until the socket is full */ } };
    res.on('drain', pump);
    res.on('error', () => {});
    pump();
    return;
  }
  let cid;
  try { cid = CID.parse(text); } catch { res.writeHead(400).end('bad CID'); return; }
  if (!(await blockstore.has(cid))) { res.writeHead(404).end('no such block'); return; }
  const resolved = await resolvePath(cid, path);
  if (!resolved.cid) { res.writeHead(404).end('no such path'); return; }
  const format = url.searchParams.get('format');
  if (format === 'raw') {
    const target = resolved.cid;
    const bytes = modes.has('wrong-block') ? await impostor(target) : await getBlock(target);
    res.writeHead(200, { 'Content-Type': 'application/vnd.ipld.raw' }).end(bytes);
    return;
  }
  if (format !== 'car') { res.writeHead(406).end('format=raw or format=car'); return; }
  if (modes.has('raw-only')) { res.writeHead(406).end('this gateway serves raw blocks only'); return; }
  let blocks = [...resolved.blocks, ...(await dagBlocks(resolved.cid))];
  if (modes.has('wrong-block')) {
    const last = blocks.length - 1;
    blocks[last] = { cid: blocks[last].cid, bytes: Buffer.concat([blocks[last].bytes, Buffer.from([0])]) };
  }
  let bytes = await carBytes(cid, blocks);
  if (modes.has('truncated-car')) bytes = bytes.subarray(0, bytes.length - 7);
  res.writeHead(200, { 'Content-Type': 'application/vnd.ipld.car' }).end(bytes);
}

const server = createServer((req, res) => {
  answer(req, res).catch((e) => { res.writeHead(500).end(String(e)); });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port, files, sharded: sharded.toString(), sub_shards: subShards }) + '\n');
});

// Reference CIDs from the npm `ipfs-unixfs-importer` (the cross-check for evidence/importer.py).
//
//   node scripts/js/unixfs_cid.mjs [--profile kubo-v1|unixfs-v1-2025] [--hidden] PATH...
//   node scripts/js/unixfs_cid.mjs --chunk-size N --max-links M PATH...   (CIDv1 raw leaves, custom layout)
//
// Prints one JSON line per PATH: {"path", "cid", "size", "seconds", "bytes"}. A directory is
// imported the way `ipfs add -r` does (hidden entries skipped unless --hidden, empty
// directories kept). Blocks go to a black-hole blockstore: only the CIDs are computed, which is
// what the benchmark times (`seconds` covers the import alone, not Node's start-up).
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { BlackHoleBlockstore } from 'blockstore-core'
import * as fs from 'node:fs'
import * as nodePath from 'node:path'

const PROFILES = {
  'kubo-v1': () => ({
    cidVersion: 1,
    rawLeaves: true,
    chunker: fixedSize({ chunkSize: 262144 }),
    layout: balanced({ maxChildrenPerNode: 174 }),
    reduceSingleLeafToSelf: true,
    shardSplitStrategy: 'links-bytes'
  }),
  'unixfs-v1-2025': () => ({ profile: 'unixfs-v1-2025' })
}

function parseArgs (argv) {
  const args = { profile: 'kubo-v1', hidden: false, paths: [] }
  let chunkSize, maxLinks
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--profile') args.profile = argv[++i]
    else if (a === '--chunk-size') chunkSize = Number(argv[++i])
    else if (a === '--max-links') maxLinks = Number(argv[++i])
    else if (a === '--hidden') args.hidden = true
    else args.paths.push(a)
  }
  if (chunkSize !== undefined || maxLinks !== undefined) {
    args.profile = 'custom'
    PROFILES.custom = () => ({
      cidVersion: 1,
      rawLeaves: true,
      chunker: fixedSize({ chunkSize: chunkSize ?? 262144 }),
      layout: balanced({ maxChildrenPerNode: maxLinks ?? 174 }),
      reduceSingleLeafToSelf: true
    })
  }
  if (!(args.profile in PROFILES)) throw new Error(`unknown profile ${args.profile}`)
  return args
}

function * walk (root, rel, hidden) {
  const names = fs.readdirSync(root).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  let any = false
  for (const name of names) {
    if (!hidden && name.startsWith('.')) continue
    const full = nodePath.join(root, name)
    const childRel = `${rel}/${name}`
    const st = fs.lstatSync(full)
    if (st.isDirectory()) {
      any = true
      yield * walk(full, childRel, hidden)
    } else if (st.isFile()) {
      any = true
      yield { path: childRel, content: fs.createReadStream(full, { highWaterMark: 1 << 20 }) }
    }
  }
  if (!any) yield { path: rel }
}

async function importPath (path, options, hidden) {
  const st = fs.statSync(path)
  const base = nodePath.basename(nodePath.resolve(path))
  const source = st.isDirectory()
    ? walk(path, base, hidden)
    : [{ path: base, content: fs.createReadStream(path, { highWaterMark: 1 << 20 }) }]
  let last
  for await (const entry of importer(source, new BlackHoleBlockstore(), options)) last = entry
  return last
}

const args = parseArgs(process.argv.slice(2))
for (const path of args.paths) {
  const started = process.hrtime.bigint()
  const entry = await importPath(path, PROFILES[args.profile](), args.hidden)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const st = fs.statSync(path)
  process.stdout.write(JSON.stringify({
    path,
    cid: entry.cid.toString(),
    size: Number(entry.size),
    seconds,
    bytes: st.isDirectory() ? null : st.size
  }) + '\n')
}

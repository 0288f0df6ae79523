// Benchmark (not a test): /files upload and download of 100 MiB, through the unmodified SDK and over plain HTTP,
// in MiB/s (median of --runs after one warm-up run each). Prints a table.
// Usage: node bench/files.mjs [--sdk 2.51.0] [--runs 5] [--mib 100] [--dir /home/user]
import fs from 'node:fs'
import crypto from 'node:crypto'
import { startEnvd, sdks, ensureTemplateUser } from '../test/helpers/envd.mjs'
import { flags } from './flags.mjs'

const args = flags()
const version = args.sdk ?? '2.51.0'
const runs = Number(args.runs ?? 5)
const mib = Number(args.mib ?? 100)
const size = mib * 1024 * 1024

ensureTemplateUser()
const dir = args.dir ?? '/home/user'
const envd = await startEnvd({ args: ['--default-user', 'user'] })
const target = `${dir}/bench-files-${crypto.randomBytes(4).toString('hex')}.bin`
// random bytes: nothing on the way can compress or deduplicate them
const data = crypto.randomBytes(size)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function measure(label, fn) {
  await fn() // warm-up: JIT, page cache, connection
  const rates = []
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint()
    const bytes = await fn()
    const s = Number(process.hrtime.bigint() - t) / 1e9
    if (bytes !== size) throw new Error(`${label}: moved ${bytes} bytes, expected ${size}`)
    rates.push(size / 1024 / 1024 / s)
  }
  return [label, `${median(rates).toFixed(0)}`, `${Math.min(...rates).toFixed(0)}–${Math.max(...rates).toFixed(0)}`]
}

try {
  const { Sandbox } = await sdks[version]()
  const sbx = await Sandbox.create()
  const blob = new Blob([data])
  const rows = [[`operation (${mib} MiB of random bytes, median of ${runs})`, 'MiB/s', 'range']]

  rows.push(await measure(`SDK ${version} files.write (Blob: multipart/form-data)`, async () => {
    await sbx.files.write(target, blob)
    return fs.statSync(target).size
  }))
  rows.push(await measure(`SDK ${version} files.write (ReadableStream: octet-stream)`, async () => {
    await sbx.files.write(target, blob.stream())
    return fs.statSync(target).size
  }))
  rows.push(await measure(`SDK ${version} files.read (bytes)`, async () => {
    const b = await sbx.files.read(target, { format: 'bytes' })
    return b.length
  }))
  rows.push(await measure(`SDK ${version} files.read (stream)`, async () => {
    let n = 0
    for await (const chunk of await sbx.files.read(target, { format: 'stream' })) n += chunk.length
    return n
  }))
  rows.push(await measure('HTTP POST /files (octet-stream, fetch)', async () => {
    const r = await fetch(`${envd.url}/files?path=${encodeURIComponent(target)}`, {
      method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: data,
    })
    if (r.status !== 200) throw new Error(`upload: ${r.status} ${await r.text()}`)
    await r.arrayBuffer()
    return fs.statSync(target).size
  }))
  rows.push(await measure('HTTP GET /files (identity, fetch)', async () => {
    const r = await fetch(`${envd.url}/files?path=${encodeURIComponent(target)}`)
    let n = 0
    for await (const chunk of r.body) n += chunk.length
    return n
  }))
  if (!Buffer.from(await sbx.files.read(target, { format: 'bytes' })).equals(data)) {
    throw new Error('the file read back differs from what was written')
  }

  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)))
  for (const r of rows) console.log('| ' + r.map((v, c) => v.padEnd(widths[c])).join(' | ') + ' |')
} finally {
  fs.rmSync(target, { force: true })
  await envd.stop()
}

// The E2B SDK's own share of commands.run('true'): the unmodified SDK (debug mode) against a server in another
// process that answers every Start at once with a canned start event, end event and end-stream frame.
//   cd sdk-tests && node bench/sdk-floor.mjs [--iterations 500] [--sdk 2.51.0]
import http from 'node:http'
import { fork } from 'node:child_process'
import { sdks } from '../test/helpers/envd.mjs'

const arg = (name, d) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : d }
const iterations = Number(arg('iterations', 500))
const version = arg('sdk', '2.51.0')

if (process.argv[2] === '--serve') {
  const frame = (flags, o) => {
    const json = Buffer.from(JSON.stringify(o))
    const head = Buffer.alloc(5)
    head[0] = flags
    head.writeUInt32BE(json.length, 1)
    return Buffer.concat([head, json])
  }
  const start = frame(0, { event: { start: { pid: 1 } } })
  const end = Buffer.concat([frame(0, { event: { end: { exited: true, status: 'exit status 0' } } }), frame(2, {})])
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/connect+json' })
      res.write(start)
      setImmediate(() => res.end(end))
    })
  })
  server.listen(0, '127.0.0.1', () => process.send(server.address().port))
} else {
  const child = fork(import.meta.filename, ['--serve'])
  const port = await new Promise((resolve) => child.once('message', resolve))
  process.env.E2B_DEBUG = 'true'
  process.env.E2B_SANDBOX_URL = `http://127.0.0.1:${port}`
  try {
    const { Sandbox } = await sdks[version]()
    const sbx = await Sandbox.create()
    const times = []
    for (let i = 0; i < iterations + 100; i++) {
      const t = process.hrtime.bigint()
      await sbx.commands.run('true')
      if (i >= 100) times.push(Number(process.hrtime.bigint() - t) / 1e6)
    }
    times.sort((a, b) => a - b)
    const pct = (p) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))].toFixed(2)
    console.log(`| SDK ${version} commands.run('true') against a canned server (n=${iterations}) | p10 ${pct(10)} ms | p50 ${pct(50)} ms | p99 ${pct(99)} ms |`)
  } finally {
    child.kill()
  }
}

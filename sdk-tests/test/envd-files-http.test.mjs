// The filesystem service and /files over plain HTTP, without an SDK: the polling watcher calls the Python sync SDK
// makes (CreateWatcher / GetWatcherEvents / RemoveWatcher as Connect JSON), WatchDir's stream framing, and the
// answers to bad input: malformed JSON, wrong types, bad envelopes, huge bodies, unknown users, missing paths.
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import crypto from 'node:crypto'
import { startEnvd, ensureTemplateUser } from './helpers/envd.mjs'
import { envelope, unary, stream, basic } from './helpers/connect.mjs'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const FS = 'filesystem.Filesystem'

describe('filesystem over plain HTTP', () => {
  let envd
  let base
  let dir
  let user
  before(async () => {
    user = ensureTemplateUser()
    envd = await startEnvd()
    base = envd.url
    dir = `/tmp/envd-files-http-${crypto.randomBytes(4).toString('hex')}`
    fs.mkdirSync(dir)
  })
  after(async () => {
    fs.rmSync(dir, { recursive: true, force: true })
    await envd?.stop()
  })

  test('the Python SDK watcher trio: create, drain events, remove', async () => {
    fs.mkdirSync(`${dir}/py`)
    const created = await unary(base, `${FS}/CreateWatcher`, { path: `${dir}/py`, recursive: true, includeEntry: true }, basic('user'))
    assert.equal(created.status, 200, created.text)
    const id = created.json.watcherId
    assert.match(id, /^w[a-z0-9]{20}$/)

    fs.mkdirSync(`${dir}/py/sub`)
    await sleep(50)
    fs.writeFileSync(`${dir}/py/sub/f.txt`, 'data')
    const events = []
    const deadline = Date.now() + 10_000
    while (!events.some((e) => e.name === 'sub/f.txt' && e.type === 'EVENT_TYPE_WRITE') && Date.now() < deadline) {
      const r = await unary(base, `${FS}/GetWatcherEvents`, { watcherId: id }, basic('user'))
      assert.equal(r.status, 200, r.text)
      events.push(...(r.json.events ?? []))
      await sleep(50)
    }
    const create = events.find((e) => e.name === 'sub/f.txt' && e.type === 'EVENT_TYPE_CREATE')
    assert.ok(create, JSON.stringify(events))
    assert.equal(create.entry.path, `${dir}/py/sub/f.txt`)
    assert.equal(create.entry.type, 'FILE_TYPE_FILE')
    assert.ok(events.some((e) => e.name === 'sub' && e.type === 'EVENT_TYPE_CREATE'))

    const drained = await unary(base, `${FS}/GetWatcherEvents`, { watcherId: id }, basic('user'))
    assert.deepEqual(drained.json, {}, 'nothing new: an empty message')
    const removed = await unary(base, `${FS}/RemoveWatcher`, { watcherId: id }, basic('user'))
    assert.equal(removed.status, 200)
    assert.deepEqual(removed.json, {})
    for (const proc of ['GetWatcherEvents', 'RemoveWatcher']) {
      const gone = await unary(base, `${FS}/${proc}`, { watcherId: id })
      assert.equal(gone.status, 404)
      assert.equal(gone.json.code, 'not_found')
    }
  })

  test('CreateWatcher on a missing path or a file', async () => {
    fs.writeFileSync(`${dir}/plain.txt`, 'x')
    const missing = await unary(base, `${FS}/CreateWatcher`, { path: `${dir}/missing` })
    assert.equal(missing.status, 404)
    assert.equal(missing.json.code, 'not_found')
    const file = await unary(base, `${FS}/CreateWatcher`, { path: `${dir}/plain.txt` })
    assert.equal(file.status, 400)
    assert.equal(file.json.code, 'invalid_argument')
  })

  test('WatchDir frames: start first, then events, then the end at the deadline', async () => {
    fs.mkdirSync(`${dir}/stream`)
    setTimeout(() => fs.writeFileSync(`${dir}/stream/late.txt`, 'x'), 300)
    const r = await stream(base, `${FS}/WatchDir`, envelope({ path: `${dir}/stream` }), { 'connect-timeout-ms': '1500' })
    assert.equal(r.status, 200)
    assert.equal(r.headers.get('content-type'), 'application/connect+json')
    assert.deepEqual(r.frames[0], { flags: 0, json: { start: {} } })
    assert.ok(r.frames.some((f) => f.json.filesystem?.name === 'late.txt' && f.json.filesystem.type === 'EVENT_TYPE_CREATE'),
      JSON.stringify(r.frames))
    const end = r.frames.at(-1)
    assert.equal(end.flags, 2)
    assert.equal(end.json.error.code, 'deadline_exceeded')
  })

  test('WatchDir errors end the stream with the code', async () => {
    fs.writeFileSync(`${dir}/notdir`, 'x')
    for (const [p, code] of [[`${dir}/missing`, 'not_found'], [`${dir}/notdir`, 'invalid_argument']]) {
      const r = await stream(base, `${FS}/WatchDir`, envelope({ path: p }))
      assert.equal(r.status, 200)
      const end = r.frames.at(-1)
      assert.equal(end.flags, 2)
      assert.equal(end.json.error.code, code, JSON.stringify(r.frames))
    }
  })

  test('a client that goes away releases its watch: envd keeps serving and its fds return', async () => {
    fs.mkdirSync(`${dir}/abort`)
    const fdCount = () => fs.readdirSync(`/proc/${envdPid()}/fd`).length
    const before = fdCount()
    for (let i = 0; i < 5; i++) {
      const ac = new AbortController()
      const r = await fetch(`${base}/${FS}/WatchDir`, {
        method: 'POST', headers: { 'content-type': 'application/connect+json' }, body: envelope({ path: `${dir}/abort`, recursive: true }), signal: ac.signal,
      })
      const reader = r.body.getReader()
      await reader.read() // the start frame
      ac.abort()
    }
    const deadline = Date.now() + 10_000
    while (fdCount() > before && Date.now() < deadline) await sleep(50)
    assert.ok(fdCount() <= before, `fds before ${before}, after ${fdCount()}`)
    assert.equal((await unary(base, `${FS}/Stat`, { path: dir })).status, 200)
  })

  function envdPid() {
    // the java child listening on our port: find it through /proc/net/tcp is overkill; the helper's child is the only
    // process with envd.jar and this port on its command line
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        if (cmd.includes('envd.jar') && cmd.includes(`\0${envd.port}`)) return pid
      } catch { /* gone */ }
    }
    throw new Error('envd process not found')
  }

  test('malformed JSON, wrong types and unknown enum values are invalid_argument', async () => {
    const cases = [
      ['Stat', '{"path":'],
      ['Stat', '[]'],
      ['ListDir', '{"path": "/", "depth": "deep"}'],
      ['ListDir', '{"path": "/", "depth": -1}'],
      ['Move', '{"source": {"a": 1}}'],
      ['CreateWatcher', '{"path": "/", "recursive": "yes"}'],
      ['Stat', '{"path": 5}'],
      ['MakeDir', '{"path": ["/tmp"]}'],
    ]
    for (const [proc, body] of cases) {
      const r = await unary(base, `${FS}/${proc}`, body)
      assert.equal(r.status, 400, `${proc} ${body}: ${r.text}`)
      assert.equal(r.json.code, 'invalid_argument', `${proc} ${body}`)
    }
  })

  test('bad envelopes on WatchDir', async () => {
    const short = Buffer.concat([Buffer.from([0, 0, 0, 0, 100]), Buffer.from('{}')])
    const compressed = envelope({ path: dir }, 1)
    const notJson = envelope('not json')
    for (const body of [short, compressed, notJson, Buffer.from([0, 0])]) {
      const r = await stream(base, `${FS}/WatchDir`, body)
      const code = r.status === 200 ? r.frames.at(-1).json.error?.code : JSON.parse(r.raw.toString()).code
      assert.ok(['invalid_argument', 'unimplemented', 'internal'].includes(code) && code !== undefined,
        `status ${r.status}, ${r.raw.toString()}`)
      assert.notEqual(code, 'internal', 'a bad envelope is the client\'s error')
    }
  })

  test('a huge unary body is refused and envd stays up', async () => {
    const r = await unary(base, `${FS}/Stat`, JSON.stringify({ path: 'x'.repeat(20 << 20) }))
    assert.equal(r.status, 429)
    assert.equal(r.json.code, 'resource_exhausted')
    assert.equal((await unary(base, `${FS}/Stat`, { path: dir })).status, 200)
  })

  test('unknown users are unauthenticated; missing paths are not_found; existing dirs already_exists', async () => {
    const ghost = await unary(base, `${FS}/Stat`, { path: dir }, basic('no-such-user'))
    assert.equal(ghost.status, 401)
    assert.equal(ghost.json.code, 'unauthenticated')
    const missing = await unary(base, `${FS}/Stat`, { path: `${dir}/nothing` })
    assert.equal(missing.status, 404)
    assert.equal(missing.json.code, 'not_found')
    const listMissing = await unary(base, `${FS}/ListDir`, { path: `${dir}/nothing` })
    assert.equal(listMissing.json.code, 'not_found')
    const moveMissing = await unary(base, `${FS}/Move`, { source: `${dir}/nothing`, destination: `${dir}/x` })
    assert.equal(moveMissing.json.code, 'not_found')
    const again = await unary(base, `${FS}/MakeDir`, { path: dir })
    assert.equal(again.status, 409)
    assert.equal(again.json.code, 'already_exists')
    const rm = await unary(base, `${FS}/Remove`, { path: `${dir}/nothing` })
    assert.equal(rm.status, 200)
  })

  test('MakeDir as a user gives the directories to that user; Stat shows names', async () => {
    const r = await unary(base, `${FS}/MakeDir`, { path: `${dir}/owned/by/user` }, basic('user'))
    assert.equal(r.status, 200, r.text)
    assert.equal(r.json.entry.owner, 'user')
    assert.equal(r.json.entry.type, 'FILE_TYPE_DIRECTORY')
    assert.equal(fs.statSync(`${dir}/owned`).uid, user.uid)
    const st = await unary(base, `${FS}/Stat`, { path: `${dir}/owned` })
    assert.equal(st.json.entry.permissions, 'drwxr-xr-x')
    assert.equal(st.json.entry.mode, 0o755)
    assert.equal(typeof st.json.entry.size, 'string', 'int64 is a JSON string')
  })

  test('/files errors', async () => {
    fs.writeFileSync(`${dir}/f.txt`, 'file')
    const json = async (r) => ({ status: r.status, body: await r.json() })
    const cases = [
      [404, fetch(`${base}/files?path=${dir}/missing`)],
      [400, fetch(`${base}/files?path=${dir}`)],
      [401, fetch(`${base}/files?path=${dir}/f.txt&username=no-such-user`)],
      [406, fetch(`${base}/files?path=${dir}/f.txt`, { headers: { 'accept-encoding': 'br, identity;q=0' } })],
      [400, fetch(`${base}/files?path=${dir}/u.txt`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-encoding': 'br' }, body: 'x' })],
      [400, fetch(`${base}/files?path=${dir}/u.txt`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' }, body: 'not gzip' })],
      [400, fetch(`${base}/files`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: 'no path' })],
      [400, fetch(`${base}/files?path=${dir}/u.txt`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })],
      [400, fetch(`${base}/files`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=zz' }, body: 'garbage' })],
      [400, fetch(`${base}/files?path=${dir}/u.txt`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-metadata-k': 'caf\u00e9'.normalize() }, body: 'x' }).catch(() => ({ status: 400, json: async () => ({ code: 400, message: 'rejected by the client' }) }))],
      [400, fetch(`${base}/files?path=${dir}/u.txt`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ['x-metadata-' + 'k'.repeat(247)]: 'v' }, body: 'x' })],
    ]
    for (const [status, p] of cases) {
      const r = await json(await p)
      assert.equal(r.status, status, JSON.stringify(r.body))
      assert.equal(r.body.code, status)
      assert.equal(typeof r.body.message, 'string')
    }
    const dup = new FormData()
    dup.append('file', new Blob(['1']), `${dir}/same.txt`)
    dup.append('file', new Blob(['2']), `${dir}/same.txt`)
    const r = await fetch(`${base}/files`, { method: 'POST', body: dup })
    assert.equal(r.status, 400)
    assert.match((await r.json()).message, /same path/)
  })

  test('an upload cut off mid-body does not hurt envd', async () => {
    await new Promise((resolve, reject) => {
      const s = net.connect(envd.port, '127.0.0.1', () => {
        s.write(`POST /files?path=${dir}/cut.bin HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n`)
        s.write(Buffer.alloc(100_000))
        setTimeout(() => { s.destroy(); resolve() }, 100)
      })
      s.on('error', reject)
    })
    await sleep(100)
    const r = await fetch(`${base}/files?path=${dir}/f.txt`)
    assert.equal(r.status, 200)
    assert.equal(await r.text(), 'file')
  })
})

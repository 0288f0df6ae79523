// envd's Connect layer and HTTP endpoints over plain HTTP: error codes for bad input, auth, /init, keepalives.
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startEnvd, ensureTemplateUser } from './helpers/envd.mjs'
import { envelope, unary, stream, basic } from './helpers/connect.mjs'

const start = (cmd, extra = {}) => envelope({ process: { cmd: '/bin/bash', args: ['-c', cmd] }, stdin: false, ...extra })
const endOf = (frames) => {
  const last = frames.at(-1)
  assert.equal(last.flags, 2, `last frame is end-stream: ${JSON.stringify(frames)}`)
  return last.json
}

describe('Connect layer errors', () => {
  let envd
  let base
  before(async () => {
    ensureTemplateUser()
    envd = await startEnvd()
    base = envd.url
  })
  after(async () => { await envd?.stop() })

  test('GET /health is 204 with Cache-Control: no-store', async () => {
    const r = await fetch(`${base}/health`)
    assert.equal(r.status, 204)
    assert.equal(r.headers.get('cache-control'), 'no-store')
  })

  test('an unknown procedure is 404 unimplemented', async () => {
    const r = await unary(base, 'process.Process/Nope', {})
    assert.equal(r.status, 404)
    assert.equal(r.json.code, 'unimplemented')
  })

  test('malformed JSON and wrong types are 400 invalid_argument', async () => {
    for (const body of ['{"process":', '[1,2]', '{"process":{"pid":"abc"}}', '{"signal":{}}', '{"process":{"pid":-1}}']) {
      const r = await unary(base, 'process.Process/SendSignal', body)
      assert.equal(r.status, 400, body)
      assert.equal(r.json.code, 'invalid_argument', body)
    }
  })

  test('unknown fields are ignored', async () => {
    const r = await unary(base, 'process.Process/List', { someFutureField: 1 })
    assert.equal(r.status, 200)
  })

  test('a unary body above the limit is resource_exhausted', async () => {
    const r = await unary(base, 'process.Process/SendInput', 'x'.repeat(17 << 20))
    assert.equal(r.status, 429)
    assert.equal(r.json.code, 'resource_exhausted')
  })

  test('wrong HTTP method is 405, wrong content type is 415', async () => {
    assert.equal((await fetch(`${base}/process.Process/List`)).status, 405)
    const r = await fetch(`${base}/process.Process/List`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' })
    assert.equal(r.status, 415)
    await r.arrayBuffer()
  })

  test('stream envelope errors end the stream with invalid_argument (HTTP 200)', async () => {
    const good = start('true')
    const cases = {
      truncated: good.subarray(0, good.length - 3),
      'header only': good.subarray(0, 3),
      empty: Buffer.alloc(0),
      compressed: start('true').fill(1, 0, 1),
      'two messages': Buffer.concat([good, good]),
      'bad JSON': envelope('{"process":'),
    }
    for (const [name, body] of Object.entries(cases)) {
      const r = await stream(base, 'process.Process/Start', body)
      assert.equal(r.status, 200, name)
      assert.equal(r.frames.length, 1, name)
      assert.equal(endOf(r.frames).error.code, 'invalid_argument', `${name}: ${JSON.stringify(r.frames)}`)
    }
  })

  test('an envelope announcing a huge message is refused before it is read', async () => {
    const head = Buffer.from([0, 0x7f, 0xff, 0xff, 0xff])
    const r = await stream(base, 'process.Process/Start', head)
    assert.equal(endOf(r.frames).error.code, 'resource_exhausted')
  })

  test('unknown user is unauthenticated, for unary (401) and streams (end-stream)', async () => {
    const u = await unary(base, 'process.Process/List', {}, basic('no-such-user'))
    assert.equal(u.status, 401)
    assert.equal(u.json.code, 'unauthenticated')
    const s = await stream(base, 'process.Process/Start', start('true'), basic('no-such-user'))
    assert.equal(endOf(s.frames).error.code, 'unauthenticated')
  })

  test('an invalid Connect-Timeout-Ms is invalid_argument', async () => {
    const r = await unary(base, 'process.Process/List', {}, { 'connect-timeout-ms': 'soon' })
    assert.equal(r.status, 400)
    assert.equal(r.json.code, 'invalid_argument')
  })

  test('Start streams start, data and end frames, then an empty end-stream', async () => {
    const r = await stream(base, 'process.Process/Start', start('printf hi; exit 4'))
    assert.equal(r.headers.get('content-type'), 'application/connect+json')
    const [first, ...rest] = r.frames
    assert.ok(first.json.event.start.pid > 0)
    const data = rest.filter((f) => f.json.event?.data).map((f) => Buffer.from(f.json.event.data.stdout, 'base64').toString()).join('')
    assert.equal(data, 'hi')
    const end = rest.find((f) => f.json.event?.end).json.event.end
    assert.deepEqual(end, { exitCode: 4, exited: true, status: 'exit status 4', error: 'exit status 4' })
    assert.deepEqual(endOf(r.frames), {})
  })

  test('Start with a missing executable or cwd fails in the end-stream frame', async () => {
    const noCwd = await stream(base, 'process.Process/Start', envelope({ process: { cmd: 'true', cwd: '/no/such/dir' } }))
    assert.equal(endOf(noCwd.frames).error.code, 'invalid_argument')
    const noExe = await stream(base, 'process.Process/Start', envelope({ process: { cmd: 'no-such-binary-xyz' } }))
    assert.equal(endOf(noExe.frames).error.code, 'invalid_argument')
  })

  test('keepalives are sent at the Keepalive-Ping-Interval while the stream is quiet', async () => {
    const r = await stream(base, 'process.Process/Start', start('sleep 2.5'), { 'keepalive-ping-interval': '1' })
    const keepalives = r.frames.filter((f) => f.json.event?.keepalive)
    assert.ok(keepalives.length >= 2, JSON.stringify(r.frames))
  })

  test('Connect-Timeout-Ms ends Start with deadline_exceeded and kills the process', async () => {
    const t0 = Date.now()
    const r = await stream(base, 'process.Process/Start', start('sleep 30'), { 'connect-timeout-ms': '300' })
    assert.ok(Date.now() - t0 < 5000)
    assert.equal(endOf(r.frames).error.code, 'deadline_exceeded')
    const pid = r.frames[0].json.event.start.pid
    await new Promise((res) => setTimeout(res, 200))
    const list = await unary(base, 'process.Process/List', {})
    assert.ok(!(list.json.processes ?? []).some((p) => p.pid === pid))
  })

  test('process RPCs on unknown pids are not_found; unsupported signals are unimplemented', async () => {
    const sel = { process: { pid: 999999 } }
    assert.equal((await unary(base, 'process.Process/SendSignal', { ...sel, signal: 'SIGNAL_SIGKILL' })).json.code, 'not_found')
    assert.equal((await unary(base, 'process.Process/SendInput', { ...sel, input: { stdin: 'aGk=' } })).json.code, 'not_found')
    assert.equal((await unary(base, 'process.Process/CloseStdin', sel)).json.code, 'not_found')
    assert.equal((await unary(base, 'process.Process/Update', { ...sel, pty: { size: { cols: 1, rows: 1 } } })).json.code, 'not_found')
    const c = await stream(base, 'process.Process/Connect', envelope(sel))
    assert.equal(endOf(c.frames).error.code, 'not_found')
    const sigint = await unary(base, 'process.Process/SendSignal', { ...sel, signal: 2 })
    assert.equal(sigint.status, 501)
    assert.equal(sigint.json.code, 'unimplemented')
  })

  test('SendInput to a process without stdin is internal', async () => {
    const ac = new AbortController()
    const res = await fetch(`${base}/process.Process/Start`, {
      method: 'POST',
      headers: { 'content-type': 'application/connect+json' },
      body: envelope({ process: { cmd: '/bin/sleep', args: ['5'] }, stdin: false, tag: 'no-stdin' }),
      signal: ac.signal,
    })
    const reader = res.body.getReader()
    await reader.read()
    const r = await unary(base, 'process.Process/SendInput', { process: { tag: 'no-stdin' }, input: { stdin: 'aGk=' } })
    assert.equal(r.json.code, 'internal')
    const listed = await unary(base, 'process.Process/List', {})
    const p = listed.json.processes.find((x) => x.tag === 'no-stdin')
    assert.ok(p, JSON.stringify(listed.json))
    assert.equal((await unary(base, 'process.Process/SendSignal', { process: { tag: 'no-stdin' }, signal: 'SIGNAL_SIGTERM' })).status, 200)
    ac.abort()
  })

  test('envd is still healthy after all of the above', async () => {
    assert.equal((await fetch(`${base}/health`)).status, 204)
    assert.equal((await unary(base, 'process.Process/List', {})).status, 200)
  })
})

describe('POST /init', () => {
  let envd
  let base
  before(async () => {
    ensureTemplateUser()
    envd = await startEnvd()
    base = envd.url
  })
  after(async () => { await envd?.stop() })

  test('sets the token, the sandbox env vars and the default user', async () => {
    const init = await fetch(`${base}/init`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ accessToken: 'tok123', envVars: { SANDBOX_VAR: 'sv', FOO: 'from-init' }, defaultUser: 'user', timestamp: new Date().toISOString() }),
    })
    assert.equal(init.status, 204)

    const denied = await unary(base, 'process.Process/List', {})
    assert.equal(denied.status, 401)
    assert.deepEqual(denied.json, { code: 401, message: 'unauthorized access, please provide a valid access token or method signing if supported' })
    assert.equal((await unary(base, 'process.Process/List', {}, { 'x-access-token': 'wrong' })).status, 401)
    assert.equal((await fetch(`${base}/envs`)).status, 401)
    assert.equal((await fetch(`${base}/health`)).status, 204)

    const tok = { 'x-access-token': 'tok123' }
    const envs = await fetch(`${base}/envs`, { headers: tok })
    assert.deepEqual(await envs.json(), { SANDBOX_VAR: 'sv', FOO: 'from-init' })

    // sandbox env vars reach processes; request envs win over them; the default user is now `user`
    const r = await stream(base, 'process.Process/Start',
      envelope({ process: { cmd: '/bin/sh', args: ['-c', 'echo "$SANDBOX_VAR $FOO $(id -un) $HOME"'], envs: { FOO: 'from-request' } } }), tok)
    const out = r.frames.filter((f) => f.json.event?.data).map((f) => Buffer.from(f.json.event.data.stdout, 'base64').toString()).join('')
    assert.equal(out, 'sv from-request user /home/user\n')

    const metrics = await fetch(`${base}/metrics`, { headers: tok })
    const m = await metrics.json()
    for (const k of ['ts', 'cpu_count', 'cpu_used_pct', 'mem_total', 'mem_used', 'mem_cache', 'mem_total_mib', 'mem_used_mib', 'disk_used', 'disk_total']) {
      assert.equal(typeof m[k], 'number', k)
    }
  })

  test('a malformed /init body is 400', async () => {
    const r = await fetch(`${base}/init`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"envVars": 3}' })
    assert.equal(r.status, 400)
    assert.equal((await r.json()).code, 400)
  })
})

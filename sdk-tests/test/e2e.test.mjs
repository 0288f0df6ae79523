// End to end: `./sandboxd serve` on free ports, driven by the unmodified E2B SDKs (not debug mode) through the
// env file the daemon writes when ready. Needs root, runc and debootstrap; the base template is built once into
// a cached data dir (SANDBOXD_E2E_DATA_DIR, default /var/tmp/sandboxd-e2e), so only the first run takes minutes.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, mkdirSync, mkdtempSync, writeFileSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import { createServer, createConnection } from 'node:net'
import path from 'node:path'
import { parsePrometheusText, seriesValue } from './prometheus-text.mjs'

const repo = path.resolve(import.meta.dirname, '../..')
const dataDir = process.env.SANDBOXD_E2E_DATA_DIR ?? '/var/tmp/sandboxd-e2e'
const VERSIONS = ['e2b-2.51', 'e2b-2.45']

function missing() {
  // `npm test` (run by ./mvnw verify from the envd module) must not start a daemon build inside a Maven build.
  if (process.env.SANDBOXD_E2E !== '1') return 'opt-in: run `npm run test:e2e` (sets SANDBOXD_E2E=1)'
  if (process.getuid?.() !== 0) return 'needs root (the jail runtime makes namespaces, mounts, cgroups)'
  for (const [tool, pkg] of [['runc', 'runc'], ['debootstrap', 'debootstrap'], ['nft', 'nftables'], ['ip', 'iproute2']]) {
    try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }) } catch { return `needs ${tool} (apt-get install -y ${pkg})` }
  }
  return null
}
const skip = missing()
if (skip) console.log(`SKIPPED e2e: ${skip}`)

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

let daemon
let output = ''
/** The daemon's stderr alone: its log lines, one JSON object each (`--log-format json`). */
let logOutput = ''
let env

/** Starts serve on `dir` (the shared cached data dir unless a block has its own); hooks pass a context, not a dir. */
async function startDaemon(dir, extraArgs = []) {
  if (typeof dir !== 'string') dir = dataDir
  const envFile = path.join(dir, 'sandboxd.env')
  mkdirSync(dir, { recursive: true })
  const [api, proxy] = [await freePort(), await freePort()]
  daemon = spawn(path.join(repo, 'sandboxd'), ['serve', '--data-dir', dir, '--api-port', String(api),
    '--proxy-port', String(proxy), '--warm-pool', '1', '--log-format', 'json', ...extraArgs], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] })
  daemon.stdout.on('data', (d) => { output += d })
  daemon.stderr.on('data', (d) => { output += d; logOutput += d })
  const deadline = Date.now() + 15 * 60_000 // the first run builds the base template
  // A file from an earlier run names other ports: wait for the one this daemon writes when it is ready (the daemon
  // reads the old one first, to reuse its still-valid key).
  const ready = () => existsSync(envFile) && readFileSync(envFile, 'utf8').includes(`E2B_API_URL=http://127.0.0.1:${api}\n`)
  while (!ready()) {
    if (daemon.exitCode !== null) throw new Error(`sandboxd serve exited ${daemon.exitCode}:\n${output}`)
    if (Date.now() > deadline) throw new Error(`sandboxd.env did not appear:\n${output}`)
    await sleep(250)
  }
  env = Object.fromEntries(readFileSync(envFile, 'utf8').trim().split('\n').map((l) => {
    const i = l.indexOf('=')
    return [l.slice(0, i), l.slice(i + 1)]
  }))
  for (const k of ['E2B_API_URL', 'E2B_SANDBOX_URL', 'E2B_DOMAIN', 'E2B_API_KEY', 'E2B_ACCESS_TOKEN', 'E2B_VOLUME_API_URL']) {
    assert.ok(env[k], `${k} in sandboxd.env`)
    process.env[k] = env[k]
  }
  delete process.env.E2B_DEBUG
  assert.equal(env.E2B_API_URL, `http://127.0.0.1:${api}`)
  assert.equal(env.E2B_SANDBOX_URL, `http://127.0.0.1:${proxy}`)
  assert.equal(env.E2B_VOLUME_API_URL, env.E2B_API_URL, 'the volume file API is served on the API port')
  assert.match(env.E2B_API_KEY, /^e2b_[0-9a-f]+$/)
}

/** A raw API call, to see exact statuses the SDK hides (200 vs 201 on connect, 400 bodies). */
async function api(method, path, body) {
  const r = await fetch(`${env.E2B_API_URL}${path}`, {
    method, headers: { 'X-API-KEY': env.E2B_API_KEY, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await r.text()
  return { status: r.status, json: text ? JSON.parse(text) : undefined }
}

async function waitFor(what, cond, ms = 30_000) {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(200)
  }
}

async function stopDaemon() {
  if (!daemon || daemon.exitCode !== null) return
  const exited = new Promise((r) => daemon.once('exit', (code, signal) => r({ code, signal })))
  daemon.kill('SIGTERM')
  const result = await Promise.race([exited, sleep(60_000).then(() => null)])
  if (!result) {
    daemon.kill('SIGKILL')
    throw new Error(`sandboxd did not stop within 60 s of SIGTERM:\n${output.slice(-4000)}`)
  }
}

describe('e2e: sandboxd serve + the E2B SDK', { skip: skip ?? false, timeout: 30 * 60_000 }, () => {
  before(startDaemon, { timeout: 20 * 60_000 })
  after(stopDaemon, { timeout: 90_000 })

  for (const version of VERSIONS) {
    describe(version, () => {
      let Sandbox
      before(async () => { ({ Sandbox } = await import(version)) })

      test('create with metadata and envs, list, getInfo, commands and files through the proxy, setTimeout, kill', async () => {
        const tag = `${version}-${Date.now()}`
        const sbx = await Sandbox.create({ metadata: { suite: 'e2e', tag }, envs: { GREETING: 'hello' }, timeoutMs: 120_000 })
        let killed = false
        try {
          assert.match(sbx.sandboxId, /^[a-z0-9]+$/)

          const hi = await sbx.commands.run('echo hi')
          assert.equal(hi.stdout, 'hi\n')
          assert.equal(hi.exitCode, 0)
          const envs = await sbx.commands.run('echo $GREETING; whoami; pwd')
          assert.equal(envs.stdout, 'hello\nuser\n/home/user\n')

          await sbx.files.write('/home/user/e2e.txt', `written by ${version}`)
          assert.equal(await sbx.files.read('/home/user/e2e.txt'), `written by ${version}`)

          const info = await sbx.getInfo()
          assert.equal(info.sandboxId, sbx.sandboxId)
          assert.equal(info.state, 'running')
          assert.deepEqual(info.metadata, { suite: 'e2e', tag })

          const listed = await Sandbox.list({ query: { metadata: { tag } } }).nextItems()
          assert.deepEqual(listed.map((s) => s.sandboxId), [sbx.sandboxId])

          const before = new Date(info.endAt).getTime()
          await sbx.setTimeout(600_000)
          const later = new Date((await sbx.getInfo()).endAt).getTime()
          assert.ok(later > before + 300_000, `setTimeout moved endAt from ${info.endAt} by ${later - before} ms`)

          assert.equal(await sbx.kill(), true)
          killed = true
          assert.equal(await Sandbox.kill(sbx.sandboxId), false, 'a second kill finds nothing')
          assert.equal(await sbx.isRunning(), false)
          await assert.rejects(Sandbox.getInfo(sbx.sandboxId), (e) => /not found/i.test(`${e.name} ${e.message}`))
        } finally {
          if (!killed) await sbx.kill().catch(() => {})
        }
      })

      test('pause, state, connect resumes (201), connect on running (200), commands work after resume', async () => {
        const sbx = await Sandbox.create({ timeoutMs: 120_000 })
        try {
          await sbx.commands.run('echo before > /tmp/state')
          assert.equal(await sbx.pause(), true)
          assert.equal((await Sandbox.getInfo(sbx.sandboxId)).state, 'paused')
          assert.equal((await api('POST', `/sandboxes/${sbx.sandboxId}/pause`, {})).status, 409, 'pausing a paused one')
          assert.equal((await api('POST', `/sandboxes/${sbx.sandboxId}/connect`, { timeout: 120 })).status, 201)
          assert.equal((await Sandbox.getInfo(sbx.sandboxId)).state, 'running')
          assert.equal((await api('POST', `/sandboxes/${sbx.sandboxId}/connect`, { timeout: 120 })).status, 200)
          const again = await Sandbox.connect(sbx.sandboxId)
          assert.equal((await again.commands.run('cat /tmp/state')).stdout, 'before\n', 'memory and files kept')
        } finally {
          await sbx.kill().catch(() => {})
        }
      })

      test('auto-pause on timeout, then auto-resume on the next request through the proxy', async () => {
        const sbx = await Sandbox.create({ timeoutMs: 2_000, lifecycle: { onTimeout: 'pause', autoResume: true } })
        try {
          await waitFor('auto-pause', async () => (await Sandbox.getInfo(sbx.sandboxId)).state === 'paused')
          assert.equal((await sbx.commands.run('echo awake')).stdout, 'awake\n')
          assert.equal((await Sandbox.getInfo(sbx.sandboxId)).state, 'running')
        } finally {
          await sbx.kill().catch(() => {})
        }
      })

      test('list filters by metadata and pages with nextToken', async () => {
        const tag = `page-${version}-${Date.now()}`
        const made = await Promise.all([0, 1, 2].map(() => Sandbox.create({ metadata: { tag }, timeoutMs: 120_000 })))
        try {
          const pager = Sandbox.list({ query: { metadata: { tag } }, limit: 2 })
          const first = await pager.nextItems()
          assert.equal(first.length, 2)
          assert.equal(pager.hasNext, true)
          const second = await pager.nextItems()
          assert.equal(second.length, 1)
          assert.equal(pager.hasNext, false)
          assert.deepEqual([...first, ...second].map((s) => s.sandboxId).sort(), made.map((s) => s.sandboxId).sort())
        } finally {
          await Promise.all(made.map((s) => s.kill().catch(() => {})))
        }
      })

      test('a bad API key is refused with 401', async () => {
        await assert.rejects(Sandbox.create({ apiKey: `e2b_${'0'.repeat(40)}` }),
          (e) => e.name === 'AuthenticationError' || /401|unauthori[sz]ed|invalid api key/i.test(e.message))
      })

      test('an unknown sandbox is 404', async () => {
        await assert.rejects(Sandbox.getInfo('nosuchsandbox0000000'), (e) => /not ?found/i.test(`${e.name} ${e.message}`))
        assert.equal(await Sandbox.kill('nosuchsandbox0000000'), false)
        await assert.rejects(Sandbox.setTimeout('nosuchsandbox0000000', 60_000), (e) => /not ?found/i.test(`${e.name} ${e.message}`))
      })
    })
  }

  describe('egress rules (SDK 2.51): a network namespace stands in for the internet', () => {
    // 198.51.100.0/24 (TEST-NET-2): a namespace of this test, reached through the host like any public address;
    // it serves "reached" over HTTP on ports 80 and 8080 and TLS on 443. No traffic leaves the machine.
    const ns = 'sbxe2enet'
    const ip = '198.51.100.2'
    const sh = (cmd) => execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] }).toString()
    const servers = []
    let Sandbox, ALL_TRAFFIC
    before(async () => {
      ({ Sandbox, ALL_TRAFFIC } = await import('e2b-2.51'))
      sh(`ip link del ${ns}0 2>/dev/null; ip netns del ${ns} 2>/dev/null; true`)
      sh(`ip netns add ${ns} && ip link add ${ns}0 type veth peer name eth0 netns ${ns} && ip addr add 198.51.100.1/24 dev ${ns}0 && ip link set ${ns}0 up`)
      sh(`ip -n ${ns} link set lo up && ip -n ${ns} addr add ${ip}/24 dev eth0 && ip -n ${ns} link set eth0 up && ip -n ${ns} route add default via 198.51.100.1`)
      const www = `/tmp/${ns}-www`
      sh(`mkdir -p ${www} && printf 'reached\\n' > ${www}/index.html && cd /tmp && openssl req -x509 -newkey rsa:2048 -nodes -keyout ${www}.key -out ${www}.crt -subj /CN=fake -days 1 2>/dev/null`)
      for (const args of [['busybox', 'httpd', '-f', '-p', '80', '-h', www], ['busybox', 'httpd', '-f', '-p', '8080', '-h', www],
        ['openssl', 's_server', '-quiet', '-accept', '443', '-cert', `${www}.crt`, '-key', `${www}.key`, '-www']]) {
        servers.push(spawn('ip', ['netns', 'exec', ns, ...args], { stdio: 'ignore' }))
      }
      await waitFor('the fake internet', async () => {
        try { sh(`curl -s -f -m 1 http://${ip}/index.html && curl -s -k -f -m 1 https://${ip}/ >/dev/null`); return true } catch { return false }
      }, 10_000)
    })
    after(() => {
      servers.forEach((p) => p.kill('SIGKILL'))
      sh(`ip link del ${ns}0 2>/dev/null; ip netns del ${ns} 2>/dev/null; true`)
    })

    /** curl from inside the sandbox with `name` pinned to the fake internet; its output and exit status. */
    async function curl(sbx, name, port, url) {
      const r = await sbx.commands.run(`curl -s -k -m 3 --resolve ${name}:${port}:${ip} ${url}; echo " exit=$?"`)
      return r.stdout
    }

    test('no rules: the fake internet is reachable, private ranges are not', async () => {
      const sbx = await Sandbox.create({ timeoutMs: 120_000 })
      try {
        assert.match(await curl(sbx, 'any.test', 8080, 'http://any.test:8080/index.html'), /^reached\n exit=0/)
        assert.match((await sbx.commands.run('curl -s -m 2 http://10.99.99.1/; echo " exit=$?"')).stdout, /exit=(7|28)/)
      } finally { await sbx.kill() }
    })

    test('allowOut domains with denyOut all: HTTP Host and TLS SNI are checked, everything else is dropped', async () => {
      const sbx = await Sandbox.create({ timeoutMs: 120_000, network: { allowOut: ['allowed.test', '*.wild.test'], denyOut: [ALL_TRAFFIC] } })
      try {
        assert.match(await curl(sbx, 'allowed.test', 80, 'http://allowed.test/index.html'), /^reached\n exit=0/)
        assert.match(await curl(sbx, 'a.wild.test', 80, 'http://a.wild.test/index.html'), /^reached\n exit=0/)
        assert.match(await curl(sbx, 'other.test', 80, 'http://other.test/index.html'), /sandboxd egress policy: 'other.test' is not in the sandbox's allowOut/)
        assert.match(await curl(sbx, 'allowed.test', 443, 'https://allowed.test/'), /s_server[\s\S]* exit=0/)
        assert.doesNotMatch(await curl(sbx, 'other.test', 443, 'https://other.test/'), /exit=0/)
        assert.doesNotMatch(await curl(sbx, 'allowed.test', 8080, 'http://allowed.test:8080/index.html'), /exit=0/, 'no name check off 80/443: denied')
        const info = await Sandbox.getInfo(sbx.sandboxId)
        assert.deepEqual(info.network?.allowOut, ['allowed.test', '*.wild.test'])
        assert.deepEqual(info.network?.denyOut, [ALL_TRAFFIC])
      } finally { await sbx.kill() }
    })

    test('updateNetwork replaces the rules of a running sandbox at once', async () => {
      const sbx = await Sandbox.create({ timeoutMs: 120_000 })
      try {
        assert.match(await curl(sbx, 'x.test', 8080, 'http://x.test:8080/index.html'), /exit=0/)
        await sbx.updateNetwork({ denyOut: [`${ip}/32`] })
        assert.doesNotMatch(await curl(sbx, 'x.test', 8080, 'http://x.test:8080/index.html'), /exit=0/)
        await sbx.updateNetwork({ allowOut: [ip], denyOut: [ALL_TRAFFIC] })
        assert.match(await curl(sbx, 'x.test', 8080, 'http://x.test:8080/index.html'), /^reached\n exit=0/, 'allowOut wins')
        await sbx.updateNetwork({ allowInternetAccess: false })
        assert.doesNotMatch(await curl(sbx, 'x.test', 8080, 'http://x.test:8080/index.html'), /exit=0/)
        await sbx.updateNetwork({})
        assert.match(await curl(sbx, 'x.test', 8080, 'http://x.test:8080/index.html'), /exit=0/, 'an empty update clears every rule')
        await assert.rejects(sbx.updateNetwork({ denyOut: ['example.com'] }), /denyOut entry 'example.com' is a domain/)
        await assert.rejects(Sandbox.updateNetwork('nosuchsandbox0000000', {}), (e) => /not ?found/i.test(`${e.name} ${e.message}`))
      } finally { await sbx.kill() }
    })

    test('what sandboxd does not do is a 400 that names it', async () => {
      await assert.rejects(Sandbox.create({ network: { egressProxy: { address: 'proxy.test:1080' } } }), /egressProxy' is not supported by sandboxd/)
      await assert.rejects(Sandbox.create({ network: { allowOut: ['api.test'], denyOut: [ALL_TRAFFIC], rules: { 'api.test': [{ transform: { headers: { A: 'b' } } }] } } }),
        /rules' is not supported by sandboxd/)
      await assert.rejects(Sandbox.create({ network: { allowOut: ['api.test'] } }), /denyOut does not contain 0.0.0.0\/0/)
    })
  })

  describe('volumes (SDK 2.51)', () => {
    let Sandbox, Volume, VolumeError, VolumeNotFoundError, VolumePathNotFoundError, VolumeFileType
    before(async () => {
      ({ Sandbox, Volume, VolumeError, VolumeNotFoundError, VolumePathNotFoundError, VolumeFileType } = await import('e2b-2.51'))
    })

    test('volumes: create, the file API, mounted in one sandbox then another, destroy', { timeout: 5 * 60_000 }, async () => {
      const name = `e2e-vol-${Date.now()}`
      const vol = await Volume.create(name)
      const sandboxes = []
      try {
        assert.match(vol.volumeId, /^[a-z0-9]+$/)
        assert.equal(vol.name, name)
        assert.ok((await Volume.list()).some((v) => v.volumeId === vol.volumeId && v.name === name))
        const info = await Volume.getInfo(vol.volumeId)
        assert.deepEqual({ id: info.volumeId, name: info.name, token: info.token }, { id: vol.volumeId, name, token: vol.token })

        // the file API, against the daemon's API port (E2B_VOLUME_API_URL) with the volume's token
        const written = await vol.writeFile('/docs/hello.txt', 'hello from the SDK')
        assert.equal(written.type, VolumeFileType.FILE)
        assert.equal(written.path, '/docs/hello.txt')
        assert.equal(written.size, 18)
        assert.ok(written.mtime instanceof Date && !Number.isNaN(written.mtime.getTime()))
        assert.equal(await vol.readFile('/docs/hello.txt'), 'hello from the SDK')
        await vol.writeFile('/bin.dat', new Uint8Array([0, 1, 2, 255]).buffer)
        assert.deepEqual([...await vol.readFile('/bin.dat', { format: 'bytes' })], [0, 1, 2, 255])
        const dir = await vol.makeDir('/a/b', { force: true })
        assert.equal(dir.type, VolumeFileType.DIRECTORY)
        assert.deepEqual((await vol.list('/')).map((e) => e.name), ['a', 'bin.dat', 'docs'])
        assert.deepEqual((await vol.list('/', { depth: 2 })).map((e) => e.path), ['/a', '/a/b', '/bin.dat', '/docs', '/docs/hello.txt'])
        assert.equal((await vol.getInfo('/docs')).type, VolumeFileType.DIRECTORY)
        assert.equal(await vol.exists('/docs/hello.txt'), true)
        assert.equal(await vol.exists('/nope'), false)
        assert.equal((await vol.updateMetadata('/bin.dat', { mode: 0o600 })).mode, 0o600)
        await assert.rejects(vol.readFile('/nope.txt'), VolumePathNotFoundError)
        await assert.rejects(vol.readFile('/../etc/passwd'), (e) => e instanceof VolumeError && /400/.test(e.message))
        await vol.remove('/a')
        assert.equal(await vol.exists('/a'), false)
        const again = await Volume.connect(vol.volumeId)
        assert.equal(await again.readFile('/docs/hello.txt'), 'hello from the SDK')
        const stranger = new Volume(vol.volumeId, name, 'vol_' + '0'.repeat(64))
        await assert.rejects(stranger.readFile('/docs/hello.txt'), (e) => /401|token/i.test(`${e.name} ${e.message}`))

        // mounted: the sandbox's user reads what the file API wrote and writes what the next sandbox reads
        const one = await Sandbox.create({ volumeMounts: { '/mnt/data': vol }, timeoutMs: 120_000 })
        sandboxes.push(one)
        assert.equal((await one.commands.run('cat /mnt/data/docs/hello.txt')).stdout, 'hello from the SDK')
        await one.commands.run('echo from sandbox one > /mnt/data/one.txt && mkdir -p /mnt/data/made/in && whoami > /mnt/data/made/in/who')
        await one.files.write('/mnt/data/via-envd.txt', 'written through envd')
        assert.deepEqual((await one.getInfo()).volumeMounts, [{ name, path: '/mnt/data' }])
        await assert.rejects(Volume.destroy(vol.volumeId), (e) => e instanceof VolumeError && /409/.test(e.message) && e.message.includes(one.sandboxId))
        assert.equal(await one.kill(), true)
        sandboxes.length = 0

        assert.equal(await vol.readFile('/one.txt'), 'from sandbox one\n')
        assert.equal(await vol.readFile('/made/in/who'), 'user\n')
        const two = await Sandbox.create({ volumeMounts: { '/home/user/vol': name }, timeoutMs: 120_000 }) // by name
        sandboxes.push(two)
        const seen = await two.commands.run('cat /home/user/vol/one.txt /home/user/vol/via-envd.txt')
        assert.equal(seen.stdout, 'from sandbox one\nwritten through envd')
        await two.commands.run('echo two >> /home/user/vol/one.txt')
        assert.equal(await two.kill(), true)
        sandboxes.length = 0
        assert.equal(await vol.readFile('/one.txt'), 'from sandbox one\ntwo\n')
      } finally {
        for (const s of sandboxes) await s.kill().catch(() => {})
      }
      assert.equal(await Volume.destroy(vol.volumeId), true)
      assert.equal(await Volume.destroy(vol.volumeId), false)
      await assert.rejects(Volume.getInfo(vol.volumeId), VolumeNotFoundError)
      await assert.rejects(vol.readFile('/one.txt'), (e) => e.name === 'AuthenticationError', 'the token died with the volume')
    })

    test('volumes: bad mounts are refused before a sandbox starts', async () => {
      const name = `e2e-vol-bad-${Date.now()}`
      const vol = await Volume.create(name)
      try {
        await assert.rejects(Volume.create(name), (e) => e instanceof VolumeError && /409/.test(e.message))
        await assert.rejects(Volume.create('no spaces'), (e) => e instanceof VolumeError && /400/.test(e.message))
        for (const [path, re] of [['relative/path', /absolute/], ['/', /root/], ['/proc', /\/proc/], ['/etc', /\/etc/], ['/mnt/../proc', /normalized/]]) {
          await assert.rejects(Sandbox.create({ volumeMounts: { [path]: vol } }), re, path)
        }
        await assert.rejects(Sandbox.create({ volumeMounts: { '/a': vol, '/a/b': vol } }), /overlap/)
        await assert.rejects(Sandbox.create({ volumeMounts: { '/mnt/x': 'no-such-volume' } }), /no-such-volume.*doesn't exist/)
        const raw = await api('POST', '/v2/sandboxes', { templateID: 'base', volumeMounts: [{ name, path: '/sys' }] })
        assert.equal(raw.status, 400)
        assert.equal(raw.json.code, 400)
      } finally {
        assert.equal(await Volume.destroy(vol.volumeId), true)
      }
    })
  })

  describe('observability (SDK 2.51)', () => {
    let Sandbox
    before(async () => { ({ Sandbox } = await import('e2b-2.51')) })

    /** GET /metrics with curl, as an operator would, without a key: status, content type and the parsed text. */
    function scrape() {
      const out = execFileSync('curl', ['-sS', '--max-time', '10', '-o', '-', '-w', '\n%{http_code} %{content_type}',
        `${env.E2B_API_URL}/metrics`], { encoding: 'utf8' })
      const cut = out.lastIndexOf('\n')
      const [code, ...type] = out.slice(cut + 1).split(' ')
      assert.equal(code, '200', out)
      assert.equal(type.join(' '), 'text/plain; version=0.0.4; charset=utf-8')
      return parsePrometheusText(out.slice(0, cut))
    }
    const running = (m) => seriesValue(m, 'sandboxd_sandboxes', { state: 'running' })

    test('observability: /metrics parses as Prometheus text and its counters follow an SDK create, getMetrics and kill', async (t) => {
      scrape() // when this block runs alone, the API has answered nothing yet: now it has answered a scrape
      const before = scrape()
      for (const [name, type] of [['sandboxd_sandboxes', 'gauge'], ['sandboxd_sandbox_creates_total', 'counter'],
        ['sandboxd_sandbox_create_duration_seconds', 'histogram'], ['sandboxd_sandbox_kills_total', 'counter'],
        ['sandboxd_pool_ready', 'gauge'], ['sandboxd_pool_target', 'gauge'], ['sandboxd_envd_errors_total', 'counter'],
        ['sandboxd_http_requests_total', 'counter']]) {
        assert.equal(before.get(name)?.type, type, `${name} is a ${type}`)
      }
      assert.equal(seriesValue(before, 'sandboxd_pool_target', { template: 'base' }), 1, 'serve --warm-pool 1')
      const created = (m) => seriesValue(m, 'sandboxd_sandbox_creates_total', { result: 'ok' })
      const latencies = (m) => seriesValue(m, 'sandboxd_sandbox_create_duration_seconds_count')
      const kills = (m) => seriesValue(m, 'sandboxd_sandbox_kills_total', { cause: 'request' })
      const v2Creates = (m) => seriesValue(m, 'sandboxd_http_requests_total', { method: 'POST', route: '/v2/sandboxes', status: '201' })

      const sbx = await Sandbox.create({ timeoutMs: 120_000 })
      let during
      try {
        during = scrape()
        assert.equal(created(during), created(before) + 1)
        assert.equal(latencies(during), latencies(before) + 1)
        assert.ok(seriesValue(during, 'sandboxd_sandbox_create_duration_seconds_sum') > seriesValue(before, 'sandboxd_sandbox_create_duration_seconds_sum'))
        assert.equal(v2Creates(during), v2Creates(before) + 1, 'SDK 2.51 creates through POST /v2/sandboxes')
        assert.equal(running(during), running(before) + 1)

        // getMetrics as SDK 2.51 reads it: one sample of the sandbox's cgroup and disk, in the units E2B uses
        await sbx.commands.run('head -c 2000000 /dev/urandom > /home/user/blob && sha256sum /home/user/blob')
        const samples = await sbx.getMetrics()
        assert.ok(samples.length >= 1, JSON.stringify(samples))
        const s = samples.at(-1)
        t.diagnostic(`getMetrics: ${JSON.stringify(s)}`)
        assert.ok(s.timestamp instanceof Date && Math.abs(Date.now() - s.timestamp.getTime()) < 60_000, String(s.timestamp))
        assert.ok(Number.isInteger(s.cpuCount) && s.cpuCount >= 1, `cpuCount ${s.cpuCount}`)
        assert.ok(s.cpuUsedPct >= 0 && s.cpuUsedPct <= 100, `cpuUsedPct ${s.cpuUsedPct}`)
        assert.ok(s.memTotal >= 64 * 2 ** 20, `memTotal ${s.memTotal}`)
        assert.ok(s.memUsed > 2 ** 20 && s.memUsed <= s.memTotal, `memUsed ${s.memUsed} of ${s.memTotal}`)
        assert.ok(s.diskUsed >= 2_000_000 && s.diskUsed < s.diskTotal, `diskUsed ${s.diskUsed} of ${s.diskTotal}`)
        assert.equal(seriesValue(scrape(), 'sandboxd_http_requests_total', { method: 'GET', route: '/sandboxes/{sandboxID}/metrics', status: '200' }),
          seriesValue(during, 'sandboxd_http_requests_total', { method: 'GET', route: '/sandboxes/{sandboxID}/metrics', status: '200' }) + 1)
      } finally {
        assert.equal(await sbx.kill(), true)
      }
      const afterKill = scrape()
      assert.equal(kills(afterKill), kills(before) + 1)
      assert.equal(running(afterKill), running(during) - 1)
      await assert.rejects(Sandbox.getMetrics(sbx.sandboxId), (e) => /not ?found/i.test(`${e.name} ${e.message}`))
    })

    test('observability: every line the daemon logs (serve --log-format json) is a JSON object with time, level, logger, message', () => {
      const complete = logOutput.slice(0, logOutput.lastIndexOf('\n') + 1)
      const lines = complete.split('\n').filter((l) => l !== '')
      assert.ok(lines.length >= 3, `the start-up lines at least:\n${complete}`)
      for (const line of lines) {
        let o
        assert.doesNotThrow(() => { o = JSON.parse(line) }, `not JSON: ${line}`)
        assert.equal(typeof o, 'object', line)
        assert.ok(!Number.isNaN(Date.parse(o.time)) && /Z$/.test(o.time), `time: ${line}`)
        assert.ok(['ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE'].includes(o.level), `level: ${line}`)
        assert.equal(typeof o.logger, 'string', line)
        assert.equal(typeof o.message, 'string', line)
        if ('sandboxId' in o) assert.match(o.sandboxId, /^[a-z0-9]+$/, line)
      }
      assert.ok(lines.some((l) => JSON.parse(l).message.includes('opening the store')), 'serve\'s progress lines are log lines too')
    })

    test('observability: a refused create is counted by its reason, and /metrics needs no key while the API does', async () => {
      const before = scrape()
      const bad = await api('POST', '/v2/sandboxes', { templateID: 'nosuchtemplate', timeout: 60 })
      assert.equal(bad.status, 404)
      const m = scrape()
      assert.equal(seriesValue(m, 'sandboxd_sandbox_creates_total', { result: 'not_found' }),
        seriesValue(before, 'sandboxd_sandbox_creates_total', { result: 'not_found' }) + 1)
      assert.equal((await fetch(`${env.E2B_API_URL}/v2/sandboxes`)).status, 401)
      assert.ok(seriesValue(m, 'sandboxd_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }) >= 1)
    })
  })

  describe('secrets (SDK 2.51)', () => {
    let Sandbox, Secret, SecretError, SecretNotFoundError
    before(async () => {
      ({ Sandbox, Secret, SecretError, SecretNotFoundError } = await import('e2b-2.51'))
    })

    test('secrets: create, list, exists, update, used in a sandbox through Secret.fill, destroy', { timeout: 5 * 60_000 }, async () => {
      const name = `e2e-Secret-${Date.now()}`
      const canonical = name.toLowerCase()
      const [value, value2] = [`v1-${crypto.randomUUID()}`, `v2-${crypto.randomUUID()}`]
      const created = await Secret.create(name, value, { metadata: { suite: 'e2e' } })
      let destroyed = false
      try {
        assert.match(created.secretId, /^sec_[a-z0-9]+$/)
        assert.equal(created.name, canonical, 'names come back lower-cased')
        assert.equal(created.version, 1)
        assert.deepEqual(created.metadata, { suite: 'e2e' })
        assert.ok(created.createdAt instanceof Date && !isNaN(created.createdAt))

        const listed = []
        const pages = Secret.list({ limit: 1 })
        while (pages.hasNext) listed.push(...await pages.nextItems())
        assert.ok(listed.some((s) => s.secretId === created.secretId && s.name === canonical), 'listed (paged by 1)')

        assert.equal(await Secret.exists(name), true)
        assert.equal(await Secret.exists(created.secretId), true)
        assert.equal(await Secret.exists(`no-such-${Date.now()}`), false)
        assert.equal((await Secret.getInfo(created.secretId)).name, canonical)

        const updated = await Secret.update(canonical, value2)
        assert.equal(updated.version, 2)
        assert.equal(updated.secretId, created.secretId)
        assert.deepEqual(updated.metadata, { suite: 'e2e' }, 'no metadata given: kept')
        await assert.rejects(Secret.update(`no-such-${Date.now()}`, 'x'), SecretNotFoundError)

        await assert.rejects(Secret.create(name, 'x'), (e) => e instanceof SecretError && /^409/.test(e.message))
        await assert.rejects(Secret.create('sec_reserved', 'x'), (e) => e instanceof SecretError && /^400/.test(e.message))
        await assert.rejects(Secret.create('ok-name', ''), (e) => e instanceof SecretError && /^400/.test(e.message))

        // Secret.fill formats ${e2b.secrets.<name>}; sandboxd resolves it in envs at create
        const sbx = await Sandbox.create({ envs: { API_TOKEN: Secret.fill(canonical), PLAIN: 'p' }, timeoutMs: 120_000 })
        try {
          const r = await sbx.commands.run('printf %s "$API_TOKEN"; echo; printf %s "$PLAIN"')
          assert.equal(r.stdout, `${value2}\np`, 'the current version, inside the sandbox')
          const info = JSON.stringify(await sbx.getInfo())
          assert.ok(!info.includes(value2), 'getInfo does not carry the value')
        } finally {
          await sbx.kill()
        }
        await assert.rejects(Sandbox.create({ envs: { X: Secret.fill('no-such-secret') } }), /no-such-secret.*doesn't exist/)

        // no read surface hands out a value
        for (const path of ['/secrets', `/secrets/${created.secretId}`, `/secrets/${canonical}`]) {
          const raw = await api('GET', path)
          assert.equal(raw.status, 200, path)
          const text = JSON.stringify(raw.json)
          assert.ok(!text.includes(value) && !text.includes(value2) && !/"value"/.test(text), `${path}: ${text}`)
        }
        assert.ok(!output.includes(value) && !output.includes(value2), 'the daemon never printed a value')

        assert.equal(await Secret.destroy(created.secretId), true)
        destroyed = true
        assert.equal(await Secret.destroy(created.secretId), false)
        assert.equal(await Secret.exists(name), false)
        await assert.rejects(Secret.getInfo(created.secretId), SecretNotFoundError)
        await assert.rejects(Sandbox.create({ envs: { X: Secret.fill(canonical) } }), /doesn't exist/)
      } finally {
        if (!destroyed) await Secret.destroy(created.secretId).catch(() => {})
      }
    })
  })

  test('bad timeout and bad metadata filter are 400 with a JSON body', async () => {
    const bad = await api('POST', '/sandboxes', { templateID: 'base', timeout: -1 })
    assert.equal(bad.status, 400)
    assert.equal(bad.json.code, 400)
    const filter = await api('GET', '/v2/sandboxes?metadata=notapair')
    assert.equal(filter.status, 400)
    assert.equal(filter.json.code, 400)
  })

  test('20 sandboxes created concurrently all run commands', { timeout: 10 * 60_000 }, async () => {
    const { Sandbox } = await import('e2b-2.51')
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => Sandbox.create({ timeoutMs: 300_000 })))
    const made = results.filter((r) => r.status === 'fulfilled').map((r) => r.value)
    try {
      assert.deepEqual(results.filter((r) => r.status === 'rejected').map((r) => String(r.reason)), [])
      assert.equal(new Set(made.map((s) => s.sandboxId)).size, 20)
      const outs = await Promise.all(made.map((s) => s.commands.run('echo $((6*7))')))
      assert.ok(outs.every((o) => o.stdout === '42\n'))
    } finally {
      await Promise.all(made.map((s) => s.kill().catch(() => {})))
    }
  })

  test('after a restart the old sandboxes are gone, the key still works, and creates work', { timeout: 10 * 60_000 }, async () => {
    const { Sandbox } = await import('e2b-2.51')
    const old = await Sandbox.create({ timeoutMs: 300_000 })
    const key = env.E2B_API_KEY
    await stopDaemon()
    await startDaemon()
    assert.equal(env.E2B_API_KEY, key, 'the key from sandboxd.env is reused')
    await assert.rejects(Sandbox.getInfo(old.sandboxId), (e) => /not ?found/i.test(`${e.name} ${e.message}`))
    const fresh = await Sandbox.create()
    assert.equal((await fresh.commands.run('echo again')).stdout, 'again\n')
    assert.equal(await fresh.kill(), true)
  })
})

// Secure sandboxes (issue 14), seen from outside with plain fetch through the proxy (routing headers only, the way
// a browser or curl would use a URL the SDK hands out): the envd access token on every envd call, signed /files
// URLs, the traffic token of `allowPublicTraffic: false`, envd's host-only routes, and what a process inside a
// sandbox can reach. Its own daemon, so it does not depend on the suite above.
describe('e2e: secure sandboxes, signed URLs, private traffic, internal routes', { skip: skip ?? false, timeout: 20 * 60_000 }, () => {
  before(startDaemon, { timeout: 20 * 60_000 })
  after(stopDaemon, { timeout: 90_000 })

  const ENVD = 49983
  const UNAUTHORIZED = 'unauthorized access, please provide a valid access token or method signing if supported'

  /** `target` is a path or a full URL the SDK made (whose origin is the proxy's). */
  async function viaProxy(sandboxId, port, target, { method = 'GET', headers = {}, body } = {}) {
    const url = target.startsWith('http') ? target : `${env.E2B_SANDBOX_URL}${target}`
    const r = await fetch(url, {
      method, body, headers: { 'E2b-Sandbox-Id': sandboxId, 'E2b-Sandbox-Port': String(port), ...headers },
    })
    return { status: r.status, text: await r.text() }
  }

  const rpc = (sandboxId, service, body, headers = {}) => viaProxy(sandboxId, ENVD, `/${service}`, {
    method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', 'connect-protocol-version': '1', ...headers },
  })

  /** The envd calls a client makes, as raw requests; each needs the access token when the sandbox is secure. */
  const envdCalls = (sbx) => [
    ['process RPC', (h) => rpc(sbx.sandboxId, 'process.Process/List', {}, h), UNAUTHORIZED],
    ['filesystem RPC', (h) => rpc(sbx.sandboxId, 'filesystem.Filesystem/Stat', { path: '/home/user' }, h), UNAUTHORIZED],
    ['GET /envs', (h) => viaProxy(sbx.sandboxId, ENVD, '/envs', { headers: h }), UNAUTHORIZED],
    ['GET /metrics', (h) => viaProxy(sbx.sandboxId, ENVD, '/metrics', { headers: h }), UNAUTHORIZED],
    ['GET /files', (h) => viaProxy(sbx.sandboxId, ENVD, '/files?path=/home/user/secure.txt', { headers: h }), 'missing signature query parameter'],
  ]

  function uploadForm(text, name = 'upload.txt') {
    const form = new FormData()
    form.append('file', new Blob([text]), name)
    return form
  }

  for (const version of VERSIONS) {
    describe(version, () => {
      let Sandbox
      before(async () => { ({ Sandbox } = await import(version)) })

      test('secure: every envd call without the right X-Access-Token is 401; the SDK, holding it, works', async () => {
        const sbx = await Sandbox.create({ secure: true, timeoutMs: 120_000 })
        try {
          assert.match(sbx.envdAccessToken ?? '', /^[0-9a-f]{64}$/, 'the create answer carried a token')
          assert.equal((await sbx.commands.run('echo secure')).stdout, 'secure\n')
          await sbx.files.write('/home/user/secure.txt', 'secret')
          assert.equal(await sbx.files.read('/home/user/secure.txt'), 'secret')
          for (const [what, call, message] of envdCalls(sbx)) {
            const none = await call({})
            assert.equal(none.status, 401, `${what} without a token: ${none.text}`)
            assert.ok(none.text.includes(message), `${what}: ${none.text}`)
            const wrong = await call({ 'X-Access-Token': '0'.repeat(64) })
            assert.equal(wrong.status, 401, `${what} with a wrong token: ${wrong.text}`)
            const right = await call({ 'X-Access-Token': sbx.envdAccessToken })
            assert.equal(right.status, 200, `${what} with the token: ${right.text}`)
          }
          assert.equal((await viaProxy(sbx.sandboxId, ENVD, '/files?path=/home/user/secure.txt',
            { headers: { 'X-Access-Token': sbx.envdAccessToken } })).text, 'secret')
          // a write without the token changes nothing
          const up = await viaProxy(sbx.sandboxId, ENVD, '/files?path=/home/user/secure.txt', { method: 'POST', body: uploadForm('overwritten') })
          assert.equal(up.status, 401, up.text)
          assert.equal(await sbx.files.read('/home/user/secure.txt'), 'secret')
          // one sandbox's token is not another's
          const other = await Sandbox.create({ timeoutMs: 120_000 })
          try {
            const crossed = await rpc(other.sandboxId, 'process.Process/List', {}, { 'X-Access-Token': sbx.envdAccessToken })
            assert.equal(crossed.status, 401, crossed.text)
          } finally {
            await other.kill().catch(() => {})
          }
          // the one open route: the health check
          assert.equal((await viaProxy(sbx.sandboxId, ENVD, '/health')).status, 204)
        } finally {
          await sbx.kill().catch(() => {})
        }
      })

      if (version === 'e2b-2.45') {
        test('control: secure: false (2.45) issues no token and envd answers without one', async () => {
          const sbx = await Sandbox.create({ secure: false, timeoutMs: 120_000 })
          try {
            assert.equal(sbx.envdAccessToken, undefined)
            const r = await rpc(sbx.sandboxId, 'process.Process/List', {})
            assert.equal(r.status, 200, r.text)
          } finally {
            await sbx.kill().catch(() => {})
          }
        })
      }

      test('signed URLs: upload and download without a token; tampered, other path, other user, other op, other sandbox, expired are 401', async () => {
        const sbx = await Sandbox.create({ timeoutMs: 120_000 })
        try {
          const file = '/home/user/signed.txt'
          const up = await sbx.uploadUrl(file)
          assert.ok(new URL(up).searchParams.get('signature')?.startsWith('v1_'), up)
          const posted = await viaProxy(sbx.sandboxId, ENVD, up, { method: 'POST', body: uploadForm('uploaded through a signed URL') })
          assert.equal(posted.status, 200, posted.text)
          assert.equal(await sbx.files.read(file), 'uploaded through a signed URL')

          const down = await sbx.downloadUrl(file)
          const got = await viaProxy(sbx.sandboxId, ENVD, down)
          assert.equal(got.status, 200, got.text)
          assert.equal(got.text, 'uploaded through a signed URL')

          await sbx.files.write('/home/user/other.txt', 'not yours')
          const changed = (param, value) => { const u = new URL(down); u.searchParams.set(param, value); return u.toString() }
          const sig = new URL(down).searchParams.get('signature')
          const flipped = sig.slice(0, -1) + (sig.endsWith('A') ? 'B' : 'A')
          const refused = {
            'a tampered signature': [changed('signature', flipped), 'invalid signature'],
            'another path': [changed('path', '/home/user/other.txt'), 'invalid signature'],
            'another user': [changed('username', 'root'), 'invalid signature'],
            'no signature': [(() => { const u = new URL(down); u.searchParams.delete('signature'); return u.toString() })(), 'missing signature'],
          }
          for (const [what, [url, message]] of Object.entries(refused)) {
            const r = await viaProxy(sbx.sandboxId, ENVD, url)
            assert.equal(r.status, 401, `${what}: ${r.text}`)
            assert.ok(r.text.includes(message), `${what}: ${r.text}`)
          }
          // a read signature does not write
          const wrongOp = await viaProxy(sbx.sandboxId, ENVD, down, { method: 'POST', body: uploadForm('overwritten') })
          assert.equal(wrongOp.status, 401, wrongOp.text)
          assert.equal(await sbx.files.read(file), 'uploaded through a signed URL')

          // signed for root: good for root's file, and only as root
          await sbx.files.write('/root/root.txt', 'root only', { user: 'root' })
          const asRoot = await sbx.downloadUrl('/root/root.txt', { user: 'root' })
          assert.equal((await viaProxy(sbx.sandboxId, ENVD, asRoot)).text, 'root only')
          const demoted = new URL(asRoot)
          demoted.searchParams.delete('username')
          assert.equal((await viaProxy(sbx.sandboxId, ENVD, demoted.toString())).status, 401)

          // expiration: in the future works, in the past or moved is refused
          const fresh = await sbx.downloadUrl(file, { useSignatureExpiration: 600 })
          assert.ok(new URL(fresh).searchParams.get('signature_expiration'), fresh)
          assert.equal((await viaProxy(sbx.sandboxId, ENVD, fresh)).status, 200)
          const stretched = new URL(fresh)
          stretched.searchParams.set('signature_expiration', String(Number(stretched.searchParams.get('signature_expiration')) + 3600))
          const s = await viaProxy(sbx.sandboxId, ENVD, stretched.toString())
          assert.equal(s.status, 401, s.text)
          assert.ok(s.text.includes('invalid signature'), s.text)
          const expired = await viaProxy(sbx.sandboxId, ENVD, await sbx.downloadUrl(file, { useSignatureExpiration: -60 }))
          assert.equal(expired.status, 401, expired.text)
          assert.ok(expired.text.includes('signature is already expired'), expired.text)
          const expiredUpload = await viaProxy(sbx.sandboxId, ENVD, await sbx.uploadUrl(file, { useSignatureExpiration: -60 }),
            { method: 'POST', body: uploadForm('late') })
          assert.equal(expiredUpload.status, 401, expiredUpload.text)

          // a signature is only good for the sandbox whose token made it
          const other = await Sandbox.create({ timeoutMs: 120_000 })
          try {
            await other.files.write(file, 'the other sandbox')
            const crossed = await viaProxy(other.sandboxId, ENVD, down)
            assert.equal(crossed.status, 401, crossed.text)
          } finally {
            await other.kill().catch(() => {})
          }
        } finally {
          await sbx.kill().catch(() => {})
        }
      })

      test('allowPublicTraffic: false: a port answers only with e2b-traffic-access-token (else 403), envd keeps working', async () => {
        const sbx = await Sandbox.create({ network: { allowPublicTraffic: false }, timeoutMs: 180_000 })
        const open = await Sandbox.create({ timeoutMs: 180_000 })
        try {
          assert.match(sbx.trafficAccessToken ?? '', /^[0-9a-f]{64}$/, 'the create answer carried a traffic token')
          assert.equal(open.trafficAccessToken, undefined, 'public sandboxes have none')
          for (const s of [sbx, open]) {
            await s.files.write('/home/user/www/index.html', `page of ${s.sandboxId}`)
            await s.commands.run('cd /home/user/www && exec python3 -m http.server 8000', { background: true })
          }
          const page = (s, headers = {}) => viaProxy(s.sandboxId, 8000, '/index.html', { headers })
          const token = { 'e2b-traffic-access-token': sbx.trafficAccessToken }
          await waitFor('the server in the private sandbox', async () => (await page(sbx, token)).status === 200)
          await waitFor('the server in the public sandbox', async () => (await page(open)).status === 200)
          const checkPrivate = async (when) => {
            const none = await page(sbx)
            assert.equal(none.status, 403, `${when}, no token: ${none.text}`)
            assert.ok(none.text.includes('e2b-traffic-access-token'), none.text)
            assert.equal((await page(sbx, { 'e2b-traffic-access-token': '0'.repeat(64) })).status, 403, `${when}, wrong token`)
            assert.equal((await page(sbx, { 'e2b-traffic-access-token': open.trafficAccessToken ?? sbx.envdAccessToken })).status, 403,
              `${when}, the envd token is not a traffic token`)
            const right = await page(sbx, token)
            assert.equal(right.status, 200, `${when}, right token: ${right.text}`)
            assert.equal(right.text, `page of ${sbx.sandboxId}`)
            // envd's own port is not behind the traffic token: the SDK, and raw calls with the access token
            assert.equal((await sbx.commands.run('echo envd')).stdout, 'envd\n')
            assert.equal((await rpc(sbx.sandboxId, 'process.Process/List', {}, { 'X-Access-Token': sbx.envdAccessToken })).status, 200)
          }
          await checkPrivate('running')
          // control: the public one answers anyone
          assert.equal((await page(open)).text, `page of ${open.sandboxId}`)
          // the token outlives a pause: resumed, the port is still private
          assert.equal(await sbx.pause(), true)
          const resumed = await Sandbox.connect(sbx.sandboxId)
          assert.equal(resumed.trafficAccessToken, sbx.trafficAccessToken, 'connect hands out the same traffic token')
          await checkPrivate('after pause and resume')
        } finally {
          await Promise.all([sbx.kill().catch(() => {}), open.kill().catch(() => {})])
        }
      })
    })
  }

  test('envd\'s /init is not reachable through the proxy, however its path is spelled, and the token stays', async () => {
    const { Sandbox } = await import('e2b-2.51')
    const sbx = await Sandbox.create({ envs: { KEPT: 'yes' }, timeoutMs: 120_000 })
    try {
      // what an attacker would send: clear the token, replace the env vars, become root by default
      const takeover = JSON.stringify({ accessToken: '', envVars: { KEPT: 'no' }, defaultUser: 'root' })
      for (const p of ['/init', '//init', '/%69nit', '/./init', '/init/', '/files/../init', '/init?x=1', '/x/../init']) {
        for (const headers of [{}, { 'X-Access-Token': sbx.envdAccessToken }]) {
          const r = await viaProxy(sbx.sandboxId, ENVD, p, { method: 'POST', body: takeover, headers: { 'content-type': 'application/json', ...headers } })
          assert.equal(r.status, 404, `POST ${p}: ${r.text}`)
          assert.ok(r.text.includes('internal to the sandbox'), `POST ${p}: ${r.text}`)
        }
      }
      assert.equal((await viaProxy(sbx.sandboxId, ENVD, '/init')).status, 404, 'GET /init')
      // the absolute form of a request target (RFC 9112 3.2.2), which fetch never sends: a raw request
      const { connect } = await import('node:net')
      const proxy = new URL(env.E2B_SANDBOX_URL)
      const host = `${ENVD}-${sbx.sandboxId}.${env.E2B_DOMAIN}`
      for (const target of [`http://${host}/init`, `http://${host}//init`, `HTTP://${host.toUpperCase()}/%69nit`, `//${host}/init`]) {
        const answer = await new Promise((resolve, reject) => {
          const s = connect({ host: proxy.hostname, port: Number(proxy.port) }, () => s.end(`POST ${target} HTTP/1.1\r\n`
            + `Host: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(takeover)}\r\n`
            + `Connection: close\r\n\r\n${takeover}`))
          let data = ''
          s.on('data', (d) => { data += d })
          s.on('end', () => resolve(data))
          s.on('error', reject)
        })
        if (target.startsWith('/')) { // a path: the internal-route guard must see /init in it
          assert.match(answer, /^HTTP\/1\.1 404 /, `POST ${target}: ${answer}`)
          assert.ok(answer.includes('internal to the sandbox'), `POST ${target}: ${answer}`)
        } else { // absolute form names a host of its own: refused before routing
          assert.match(answer, /^HTTP\/1\.1 400 /, `POST ${target}: ${answer}`)
          assert.ok(answer.includes('the request target must be a path'), `POST ${target}: ${answer}`)
        }
      }
      // nothing changed: the token is still required, env and user are as created
      assert.equal((await rpc(sbx.sandboxId, 'process.Process/List', {})).status, 401)
      assert.equal((await sbx.commands.run('echo $KEPT; whoami')).stdout, 'yes\nuser\n')
    } finally {
      await sbx.kill().catch(() => {})
    }
  })

  test('from inside a sandbox: no API, no proxy, no host listener, no other sandbox\'s envd', async () => {
    const { Sandbox } = await import('e2b-2.51')
    // a stand-in for a daemon bound to every address (the real one binds 127.0.0.1 by default)
    const standIn = createServer((c) => { c.on('error', () => {}); c.end('stand-in reached\n') })
    await new Promise((r) => standIn.listen(0, '0.0.0.0', r))
    const [a, b] = await Promise.all([Sandbox.create({ timeoutMs: 120_000 }), Sandbox.create({ timeoutMs: 120_000 })])
    try {
      const ipOf = async (s) => (await s.commands.run('hostname -I')).stdout.trim().split(/\s+/)[0]
      const [aIp, bIp] = [await ipOf(a), await ipOf(b)]
      // the gateway: the host end of the sandbox's link, from its default route
      const gatewayOf = async (s) => (await s.commands.run(`python3 -c "
import socket, struct
for l in open('/proc/net/route').read().splitlines()[1:]:
    f = l.split()
    if f[1] == '00000000':
        print(socket.inet_ntoa(struct.pack('<L', int(f[2], 16))))"`)).stdout.trim()
      const gw = await gatewayOf(a)
      assert.match(gw, /^\d+\.\d+\.\d+\.\d+$/)
      const apiPort = Number(new URL(env.E2B_API_URL).port)
      const proxyPort = Number(new URL(env.E2B_SANDBOX_URL).port)
      const standInPort = standIn.address().port
      // controls from the host: what the sandbox must not reach is there
      assert.equal((await fetch(`http://${bIp}:${ENVD}/health`)).status, 204, 'the host reaches B\'s envd')
      const { connect } = await import('node:net')
      const reach = (host, port) => new Promise((resolve) => {
        const s = connect({ host, port, timeout: 3000 }, () => { s.destroy(); resolve('open') })
        s.on('error', (e) => resolve(e.code)); s.on('timeout', () => { s.destroy(); resolve('timeout') })
      })
      assert.equal(await reach(gw, standInPort), 'open', 'the host reaches the stand-in at the gateway address')
      const targets = {
        'API at the gateway': [gw, apiPort], 'proxy at the gateway': [gw, proxyPort], 'stand-in at the gateway': [gw, standInPort],
        'API on loopback': ['127.0.0.1', apiPort], 'envd of B': [bIp, ENVD],
        'stand-in at the gateway of B': [await gatewayOf(b), standInPort], 'own envd (control)': ['127.0.0.1', ENVD],
      }
      const probe = `python3 -c "
import base64, json, socket, sys
out = {}
for name, (host, port) in json.loads(base64.b64decode(sys.argv[1])).items():
    try:
        socket.create_connection((host, port), timeout=3).close(); out[name] = 'open'
    except Exception as e:
        out[name] = type(e).__name__
print(json.dumps(out))" ${Buffer.from(JSON.stringify(targets)).toString('base64')}`
      for (const user of ['user', 'root']) {
        const seen = JSON.parse((await a.commands.run(probe, { user, timeoutMs: 60_000 })).stdout)
        assert.equal(seen['own envd (control)'], 'open', `${user}: the probe can see an open port: ${JSON.stringify(seen)}`)
        for (const [name, result] of Object.entries(seen)) {
          if (name !== 'own envd (control)') assert.notEqual(result, 'open', `${user} in A (${aIp}) reached ${name} ${targets[name]}`)
        }
      }
    } finally {
      await Promise.all([a.kill().catch(() => {}), b.kill().catch(() => {})])
      standIn.close()
    }
  })
})

// kill -9 of the daemon: its own data dir (the base template copied from the shared cache, so no second debootstrap)
// and one serve at a time, since serve's nft table, netns and veth names (prefix sbx) and runc root are per host.
describe('e2e: kill -9 of the daemon keeps its sandboxes (SDK 2.51)', { skip: skip ?? false, timeout: 20 * 60_000 }, () => {
  const k9Dir = process.env.SANDBOXD_E2E_KILL9_DATA_DIR ?? '/var/tmp/sandboxd-e2e-kill9'
  const sh = (cmd) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' })
  /** What sandboxes leave on the host: mounts under the data dir, netns, veths, jail cgroups, runc containers. */
  function leftovers() {
    return {
      mounts: readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(`${k9Dir}/sandboxes/`)),
      netns: existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => /^sbx-\d+$/.test(n)) : [],
      veths: readdirSync('/sys/class/net').filter((n) => /^sbxh\d+$/.test(n)),
      cgroups: sh("find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -path '*/sandboxd/j*' 2>/dev/null || true").split('\n').filter(Boolean),
      runc: sh('runc --root /run/sandboxd/runc list -q 2>/dev/null || true').split('\n').filter(Boolean),
    }
  }
  /** The host veth of a sandbox, from its address (slot i: 10.11.0.0 + 4i + 2, veth sbxh<i>). */
  async function vethOf(sbx) {
    const ip = (await sbx.commands.run(`python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('10.11.0.1', 9)); print(s.getsockname()[0])"`)).stdout.trim()
    const [a, b, c, d] = ip.split('.').map(Number)
    return `sbxh${(((a << 24) | (b << 16) | (c << 8) | d) - ((10 << 24) | (11 << 16)) - 2) / 4}`
  }

  before(() => {
    if (!existsSync(path.join(k9Dir, 'templates')) && existsSync(path.join(dataDir, 'templates'))) {
      mkdirSync(k9Dir, { recursive: true })
      execFileSync('cp', ['-a', path.join(dataDir, 'templates'), k9Dir])
    }
  })
  after(async () => {
    await stopDaemon()
    // The restarted daemon attached to the PostgreSQL the killed one started; nothing else stops that server.
    for (const pidFile of sh(`find ${k9Dir}/db -maxdepth 3 -name postmaster.pid 2>/dev/null || true`).split('\n').filter(Boolean)) {
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0])
      try { process.kill(pid, 'SIGTERM') } catch { /* already gone */ }
    }
  }, { timeout: 90_000 })

  test('running and paused sandboxes come back after a restart: listed, resumable, files and rules kept, nothing leaks', async () => {
    const { Sandbox } = await import('e2b-2.51')
    await startDaemon(k9Dir)
    const a = await Sandbox.create({ timeoutMs: 600_000 })
    const b = await Sandbox.create({ timeoutMs: 600_000, allowInternetAccess: false })
    try {
      await a.files.write('/home/user/k9.txt', 'written before kill -9 in a')
      await b.files.write('/home/user/k9.txt', 'written before kill -9 in b')
      await a.commands.run('sleep 3600', { background: true })
      const [vethA, vethB] = [await vethOf(a), await vethOf(b)]
      assert.equal(await b.pause(), true)
      const before = leftovers()

      const killed = new Promise((r) => daemon.once('exit', (code, signal) => r(signal)))
      daemon.kill('SIGKILL')
      assert.equal(await killed, 'SIGKILL')
      assert.deepEqual(leftovers().runc.sort(), before.runc.sort(), 'the jails outlive the daemon')
      output = ''
      await startDaemon(k9Dir)
      assert.match(output, new RegExp(`adopted sandbox ${a.sandboxId} \\(running\\)`), output)
      assert.match(output, new RegExp(`adopted sandbox ${b.sandboxId} \\(paused\\)`), output)

      const listed = await Sandbox.list({ query: { state: ['running', 'paused'] } }).nextItems()
      const state = Object.fromEntries(listed.map((s) => [s.sandboxId, s.state]))
      assert.equal(state[a.sandboxId], 'running', JSON.stringify(state))
      assert.equal(state[b.sandboxId], 'paused', JSON.stringify(state))
      // rules are back in the new firewall table: a is allowed out, b (no internet access) has its denying chain
      const egress = sh('nft list set inet sbx egress')
      assert.ok(egress.includes(`"${vethA}"`), `${vethA} allowed out: ${egress}`)
      assert.ok(!egress.includes(`"${vethB}"`), `${vethB} not allowed out: ${egress}`)
      assert.ok(sh('nft list map inet sbx filters').includes(`"${vethB}"`), 'b has its own egress chain again')

      const a2 = await Sandbox.connect(a.sandboxId)
      const b2 = await Sandbox.connect(b.sandboxId) // resumes it
      assert.equal((await Sandbox.getInfo(b.sandboxId)).state, 'running')
      assert.equal(await a2.files.read('/home/user/k9.txt'), 'written before kill -9 in a')
      assert.equal(await b2.files.read('/home/user/k9.txt'), 'written before kill -9 in b')
      const procs = (await a2.commands.run("for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done 2>/dev/null")).stdout
      assert.match(procs, /^sleep 3600 $/m, `a process started before the kill runs:\n${procs}`)
      assert.equal((await b2.commands.run('echo after restart')).stdout, 'after restart\n')
      assert.equal(await a2.kill(), true)
      assert.equal(await b2.kill(), true)
    } finally {
      await Promise.all([a.kill().catch(() => {}), b.kill().catch(() => {})])
    }
    await stopDaemon()
    assert.deepEqual(leftovers(), { mounts: [], netns: [], veths: [], cgroups: [], runc: [] }, 'nothing is left on the host')
  })

  test('SIGTERM with --on-shutdown pause leaves sandboxes paused for the next start, which resumes them with files and processes', async () => {
    const { Sandbox } = await import('e2b-2.51')
    await startDaemon(k9Dir, ['--on-shutdown', 'pause'])
    const a = await Sandbox.create({ timeoutMs: 600_000 })
    const kept = await Sandbox.create({ timeoutMs: 600_000 })
    try {
      await a.files.write('/home/user/term.txt', 'kept across a clean restart')
      await a.commands.run('sleep 3600', { background: true })
      assert.equal(await kept.pause(), true)
      await stopDaemon()
      assert.match(output, /on-shutdown pause: 0 killed, 1 paused, 1 left as they were/, output.slice(-3000))
      const left = leftovers()
      assert.equal(left.runc.length, 2, `both jails outlive the daemon: ${JSON.stringify(left)}`)
      assert.equal(left.mounts.length >= 2, true, 'their file systems stay mounted')
      output = ''
      await startDaemon(k9Dir)
      assert.match(output, new RegExp(`adopted sandbox ${a.sandboxId} \\(paused\\)`), output)
      assert.match(output, new RegExp(`adopted sandbox ${kept.sandboxId} \\(paused\\)`), output)
      assert.equal((await Sandbox.getInfo(a.sandboxId)).state, 'paused')
      const a2 = await Sandbox.connect(a.sandboxId)
      assert.equal(await a2.files.read('/home/user/term.txt'), 'kept across a clean restart')
      const procs = (await a2.commands.run("for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done 2>/dev/null")).stdout
      assert.match(procs, /^sleep 3600 $/m, `a process started before the shutdown runs:\n${procs}`)
      assert.equal(await a2.kill(), true)
      assert.equal(await Sandbox.kill(kept.sandboxId), true, 'the paused one too, through the new daemon')
    } finally {
      await Promise.all([Sandbox.kill(a.sandboxId).catch(() => {}), Sandbox.kill(kept.sandboxId).catch(() => {})])
    }
    await stopDaemon()
    assert.deepEqual(leftovers(), { mounts: [], netns: [], veths: [], cgroups: [], runc: [] }, 'nothing is left on the host')
  })
})

/** Debian's docker-registry on loopback, with htpasswd auth when `login` is given. */
async function startRegistry(login) {
  const port = await freePort()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sbxp-registry-'))
  let auth = ''
  if (login) {
    const hash = execFileSync('python3', ['-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))',
      login.password], { encoding: 'utf8' }).trim()
    // docker-registry reads bcrypt hashes only
    writeFileSync(path.join(dir, 'htpasswd'), `${login.user}:${hash}\n`)
    auth = `auth:\n  htpasswd:\n    realm: sandboxd-e2e\n    path: ${path.join(dir, 'htpasswd')}\n`
  }
  writeFileSync(path.join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n`
    + `http:\n  addr: 127.0.0.1:${port}\n${auth}`)
  const p = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' })
  const deadline = Date.now() + 20_000
  for (;;) {
    const up = await new Promise((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => { s.end(); resolve(true) })
      s.on('error', () => resolve(false))
    })
    if (up) break
    if (Date.now() > deadline) { p.kill(); throw new Error('docker-registry did not listen') }
    await sleep(100)
  }
  return { port, stop: () => { p.kill(); rmSync(dir, { recursive: true, force: true }) } }
}

/** The base template's tree as a one-layer OCI image (an uncompressed tar layer), pushed to `image` with skopeo. */
function pushBaseRootfsAsImage(image, user, password) {
  const builds = path.join(dataDir, 'templates', 'base')
  const build = readdirSync(builds).filter((d) => existsSync(path.join(builds, d, 'rootfs'))).sort().at(-1)
  const layout = mkdtempSync(path.join(os.tmpdir(), 'sbxp-layout-'))
  try {
    const blobs = path.join(layout, 'blobs', 'sha256')
    mkdirSync(blobs, { recursive: true })
    const layer = path.join(layout, 'layer.tar')
    execFileSync('tar', ['-C', path.join(builds, build, 'rootfs'), '--numeric-owner', '-cf', layer, '.'])
    const sha = (f) => execFileSync('sha256sum', [f], { encoding: 'utf8' }).split(' ')[0]
    const layerSha = sha(layer)
    const layerSize = statSync(layer).size
    execFileSync('mv', [layer, path.join(blobs, layerSha)])
    const put = (obj) => {
      const bytes = Buffer.from(JSON.stringify(obj))
      const f = path.join(layout, 'tmp.json')
      writeFileSync(f, bytes)
      const d = sha(f)
      execFileSync('mv', [f, path.join(blobs, d)])
      return { digest: `sha256:${d}`, size: bytes.length }
    }
    const config = put({ architecture: 'amd64', os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'FROM_IMAGE=from-the-image-config'] },
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerSha}`] } })
    const manifest = put({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerSha}`, size: layerSize }] })
    writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest,
      annotations: { 'org.opencontainers.image.ref.name': '1' } }] }))
    writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
    execFileSync('skopeo', ['--insecure-policy', 'copy', '--dest-tls-verify=false', '--dest-creds', `${user}:${password}`,
      `oci:${layout}:1`, `docker://${image}`], { stdio: 'pipe' })
  } finally {
    rmSync(layout, { recursive: true, force: true })
  }
}

describe('e2e: template builds', { skip: skip ?? false, timeout: 20 * 60_000 }, () => {
  // Build jails carry this prefix so that leftovers of a test run are recognisable on the host.
  before(async () => { process.env.SANDBOXD_BUILD_JAIL_PREFIX = 'sbxp'; await startDaemon() }, { timeout: 20 * 60_000 })
  after(stopDaemon, { timeout: 90_000 })

  let Template, Sandbox, waitForURL
  let ctx
  before(async () => {
    ({ Template, Sandbox, waitForURL } = await import('e2b-2.51'))
    ctx = mkdtempSync(path.join(os.tmpdir(), 'sbxp-ctx-'))
    mkdirSync(path.join(ctx, 'app/sub'), { recursive: true })
    writeFileSync(path.join(ctx, 'app/hello.txt'), 'hello from the context\n')
    writeFileSync(path.join(ctx, 'app/sub/run.sh'), '#!/bin/sh\necho ran-from-copy\n', { mode: 0o755 })
  })
  after(() => { if (ctx) rmSync(ctx, { recursive: true, force: true }) })

  const name = `sbxp-tpl-${process.pid}`
  const runId = `${process.pid}-${Date.now()}`
  // Every step kind the builder sends; the last RUN differs between the two builds.
  const recipe = (marker) => Template({ fileContextPath: ctx })
    .fromBaseImage()
    // RUN_ID makes this run's layers its own: the layer cache of an earlier run on the same data dir is not reused.
    .setEnvs({ GREETING: 'hi there', RUN_ID: runId })
    .runCmd('mkdir -p /opt/data && echo "$GREETING" > /opt/data/greeting.txt', { user: 'root' })
    .runCmd('git init -q /opt/src && cd /opt/src && echo readme > README && git -c user.email=t@t -c user.name=t add README '
      + '&& git -c user.email=t@t -c user.name=t commit -qm init', { user: 'root' })
    .gitClone('/opt/src', '/opt/clone', { user: 'root' })
    .copy('app', '/opt/app/')
    .setWorkdir('/opt/work')
    .setUser('user')
    .runCmd(`echo ${marker} > /opt/work/marker.txt`)
    .setStartCmd('python3 -m http.server 8123 --bind 127.0.0.1 >/tmp/http.log 2>&1', waitForURL('http://127.0.0.1:8123/'))

  const build = async (tpl, alias) => {
    const logs = []
    const t0 = performance.now()
    await Template.build(tpl, alias, { cpuCount: 1, memoryMB: 512, onBuildLogs: (l) => logs.push(l) })
    return { ms: performance.now() - t0, logs }
  }

  test('template builds: steps, copied folder, logs, a sandbox from its name with every effect, a cached rebuild', async () => {
    assert.equal(await Template.exists(name), false)
    const first = await build(recipe('one'), name)
    const text = first.logs.map((l) => `${l.level} ${l.message}`).join('\n')
    assert.match(text, /\[1\/8\] ENV GREETING/, text)
    assert.match(text, /\[5\/8\] COPY app/, text)
    assert.ok(!text.includes('(cached)'), `nothing of this run was built before:\n${text}`)
    assert.match(text, /build finished/, text)
    assert.match(text, /a sandbox of the template is ready with its start command running/, text)
    assert.ok(first.logs.every((l) => ['debug', 'info', 'warn', 'error'].includes(l.level)), 'log levels')
    assert.equal(await Template.exists(name), true)

    const t0 = performance.now()
    const sbx = await Sandbox.create(name)
    const createMs = performance.now() - t0
    try {
      const run = async (cmd, opts) => (await sbx.commands.run(cmd, opts)).stdout.trim()
      assert.equal(await run('cat /opt/data/greeting.txt'), 'hi there')
      assert.equal(await run('echo "$GREETING"'), 'hi there', 'ENV reaches commands')
      assert.equal(await run('cat /opt/clone/README'), 'readme', 'gitClone')
      assert.equal(await run('cat /opt/app/hello.txt'), 'hello from the context', 'copy of a folder')
      assert.equal(await run('/opt/app/sub/run.sh'), 'ran-from-copy', 'copied files keep their mode')
      assert.equal(await run('stat -c %U /opt/app/hello.txt /opt/work /opt/work/marker.txt'), 'user\nuser\nuser',
        'copy, workdir and RUN as the template user')
      assert.equal(await run('cat /opt/work/marker.txt'), 'one')
      assert.match(await run('curl -s http://127.0.0.1:8123/'), /Directory listing/,
        'the start command already runs: it ran, and passed its ready check, when the pool started the jail')
      const del = await api('DELETE', `/templates/${name}`)
      assert.equal(del.status, 409, JSON.stringify(del.json))
    } finally {
      await sbx.kill()
    }

    const second = await build(recipe('two'), name)
    const cached = second.logs.filter((l) => l.message.includes('(cached)')).length
    assert.equal(cached, 7, second.logs.map((l) => l.message).join('\n'))
    // The builds' own timing of their steps (the rest of a build is the start command's first ready check).
    const stepsTime = (b) => b.logs.map((l) => /steps done in ([0-9.]+) s/.exec(l.message)).find(Boolean)?.[1]
    assert.ok(stepsTime(first) && stepsTime(second), 'each build times its steps')
    console.log(`template build: first ${(first.ms / 1000).toFixed(1)} s (steps ${stepsTime(first)} s), rebuild with `
      + `the last RUN changed ${(second.ms / 1000).toFixed(1)} s (steps ${stepsTime(second)} s, 7 of 8 cached); `
      + `create from it ${createMs.toFixed(0)} ms`)
    const sbx2 = await Sandbox.create(name)
    try {
      assert.equal((await sbx2.commands.run('cat /opt/work/marker.txt')).stdout.trim(), 'two')
    } finally {
      await sbx2.kill()
    }
    const list = await api('GET', '/templates')
    assert.ok(list.json.some((t) => t.aliases.includes(name)), JSON.stringify(list.json))
    assert.equal((await api('DELETE', `/templates/${name}`)).status, 204)
    assert.equal(await Template.exists(name), false)
  })

  test('template builds: tags name builds (name:tag, build tags, assignTags, removeTags, getTags)', async () => {
    const tname = `sbxp-tags-${process.pid}`
    const version = (v) => Template().fromBaseImage().runCmd(`echo ${v}-${runId} > /opt/version.txt`, { user: 'root' })
    const made = []
    const versionOf = async (ref) => {
      const s = await Sandbox.create(ref)
      made.push(s)
      return (await s.commands.run('cat /opt/version.txt')).stdout.trim().replace(`-${runId}`, '')
    }
    try {
      await Template.build(version('one'), `${tname}:v1`, { cpuCount: 1, memoryMB: 512 })
      await Template.build(version('two'), tname, { tags: ['v2', 'latest'], cpuCount: 1, memoryMB: 512 })
      assert.equal(await versionOf(`${tname}:v1`), 'one')
      assert.equal(await versionOf(`${tname}:v2`), 'two')
      assert.equal(await versionOf(`${tname}:latest`), 'two')
      assert.equal(await versionOf(tname), 'two', 'default names the newest ready build')

      const tags = await Template.getTags(tname)
      const byTag = Object.fromEntries(tags.map((t) => [t.tag, t.buildId]))
      assert.deepEqual(Object.keys(byTag).sort(), ['default', 'latest', 'v1', 'v2'])
      assert.equal(byTag.default, byTag.v2)
      assert.notEqual(byTag.v1, byTag.v2)
      assert.ok(tags.every((t) => t.createdAt instanceof Date && !Number.isNaN(t.createdAt.getTime())))

      const assigned = await Template.assignTags(`${tname}:v1`, 'stable')
      assert.equal(assigned.buildId, byTag.v1)
      assert.deepEqual(assigned.tags, ['stable'])
      assert.equal(await versionOf(`${tname}:stable`), 'one')

      await Template.removeTags(tname, 'v1')
      await assert.rejects(Sandbox.create(`${tname}:v1`), /has no tag 'v1'/)
      assert.equal(await versionOf(`${tname}:stable`), 'one', 'the build stays while another tag names it')
      await assert.rejects(Template.assignTags(`${tname}:nope`, 'x'), /has no tag 'nope'/)
      await assert.rejects(Template.assignTags(`${tname}:v2`, 'Bad Tag'), /must be 1-64/)
      await assert.rejects(Template.removeTags(tname, 'default'), /cannot be removed/)
      await assert.rejects(Template.build(version('bad'), `${tname}:Not_Valid!`, { cpuCount: 1, memoryMB: 512 }), /tag/)
    } finally {
      for (const s of made) await s.kill().catch(() => {})
    }
    const templateId = (await api('GET', `/templates/${tname}`)).json.templateID
    assert.ok(readdirSync(path.join(dataDir, 'templates')).some((d) => d.startsWith(`${templateId}-t`)), 'tags are offered')
    assert.equal((await api('DELETE', `/templates/${tname}`)).status, 204)
    assert.deepEqual(readdirSync(path.join(dataDir, 'templates')).filter((d) => d.startsWith(templateId)), [],
      'the template and its tags\' directories are gone')
  })

  test('template builds: fromImage pulls an OCI image from a registry (with credentials) and builds on it', async () => {
    const reg = await startRegistry({ user: 'e2e', password: 'pw-e2e' })
    try {
      const image = `127.0.0.1:${reg.port}/e2e/bookworm:1`
      pushBaseRootfsAsImage(image, 'e2e', 'pw-e2e')
      const tplName = `sbxp-img-${process.pid}`
      const logs = []
      const t0 = performance.now()
      await Template.build(Template().fromImage(image, { username: 'e2e', password: 'pw-e2e' })
        .runCmd('cat /etc/debian_version > /home/user/from-image.txt; echo "$FROM_IMAGE" >> /home/user/from-image.txt'),
      tplName, { onBuildLogs: (l) => logs.push(l) })
      const pullMs = performance.now() - t0
      const text = logs.map((l) => l.message).join('\n')
      assert.match(text, /FROM 127\.0\.0\.1:\d+\/e2e\/bookworm:1 \(sha256:[0-9a-f]{64}\)/, text)
      assert.ok(!text.includes('pw-e2e'), 'the password is never in the log')
      const sbx = await Sandbox.create(tplName)
      try {
        const out = (await sbx.commands.run('cat /home/user/from-image.txt; whoami')).stdout.trim().split('\n')
        assert.match(out[0], /^12\./, 'the image is Debian bookworm')
        assert.deepEqual(out.slice(1), ['from-the-image-config', 'user'], "the image's env reached the step")
      } finally {
        await sbx.kill()
      }
      // A rebuild from the same image fetches its manifest only: the unpacked image is reused.
      const again = []
      const t1 = performance.now()
      await Template.build(Template().fromImage(image, { username: 'e2e', password: 'pw-e2e' }).runCmd('true'), tplName,
        { onBuildLogs: (l) => again.push(l) })
      assert.ok(again.some((l) => l.message.includes('unpacked before')), again.map((l) => l.message).join('\n'))
      console.log(`fromImage build: first ${(pullMs / 1000).toFixed(1)} s (pull + unpack), again ${((performance.now() - t1) / 1000).toFixed(1)} s`)
      // Wrong credentials fail the build at its base, naming the registry's answer.
      await assert.rejects(Template.build(Template().fromImage(image, { username: 'e2e', password: 'wrong' }),
        `sbxp-img-bad-${process.pid}`), (e) => e.message.includes(`base image '${image}'`) && /401|unauthori|denied/i.test(e.message))
      assert.equal((await api('DELETE', `/templates/${tplName}`)).status, 204)
    } finally {
      reg.stop()
    }
  })

  test('template builds: a failing RUN, an unknown base image and a traversal COPY fail the build naming the step', async () => {
    const failing = Template().fromBaseImage().runCmd('echo fine').runCmd('echo before-failing && exit 3')
    const logs = []
    await assert.rejects(Template.build(failing, `sbxp-fail-${process.pid}`, { onBuildLogs: (l) => logs.push(l) }),
      /step 2 failed: the command exited with 3/)
    assert.ok(logs.some((l) => l.level === 'error' && /step 2/.test(l.message)), logs.map((l) => l.message).join('\n'))
    assert.ok(logs.some((l) => l.message === 'before-failing'), 'the step output is in the log')

    // An image the registry does not have (a loopback one: no test traffic leaves this machine).
    const reg = await startRegistry()
    try {
      const missing = `127.0.0.1:${reg.port}/e2e/missing:1`
      await assert.rejects(Template.build(Template().fromImage(missing), `sbxp-oci-${process.pid}`),
        (e) => e.message.includes(`base image '${missing}'`) && /not found|unknown|404/i.test(e.message))
    } finally {
      reg.stop()
    }

    // The SDK refuses '..' itself; a client that does not is refused by the build.
    const created = await api('POST', '/v3/templates', { name: `sbxp-trav-${process.pid}`, cpuCount: 1, memoryMB: 512 })
    assert.equal(created.status, 202, JSON.stringify(created.json))
    const { templateID, buildID } = created.json
    const start = await api('POST', `/v2/templates/${templateID}/builds/${buildID}`,
      { fromTemplate: 'base', steps: [{ type: 'COPY', args: ['../../etc', '/x', '', ''], filesHash: 'abc', force: false },
        { type: 'RUN', args: ['true'], force: false }] })
    assert.equal(start.status, 202, JSON.stringify(start.json))
    let status
    await waitFor('the traversal build to fail', async () => {
      status = await api('GET', `/templates/${templateID}/builds/${buildID}/status`)
      return status.json.status === 'error'
    })
    assert.equal(status.json.reason.step, '1')
    assert.match(status.json.reason.message, /leaves the build context/)
    assert.ok(status.json.logEntries.some((e) => e.level === 'error' && e.step === '1'), JSON.stringify(status.json))
    const huge = await api('POST', `/v2/templates/${templateID}/builds/${buildID}`, { steps: [{ type: 'BOGUS', args: [] }] })
    assert.equal(huge.status, 400)
    // and the daemon still serves sandboxes
    const sbx = await Sandbox.create()
    assert.equal((await sbx.commands.run('echo ok')).stdout.trim(), 'ok')
    await sbx.kill()
  })

  // The new user's path through the real `@e2b/cli`: `e2b template create NAME --path DIR` reads DIR/e2b.Dockerfile
  // or DIR/Dockerfile, turns it into the builder's steps on the client (its bundled SDK: FROM becomes fromImage,
  // e2bdev/base is our base; ARG becomes ENV; CMD becomes the start command with `sleep 20` as its ready command)
  // and builds through the same v3/v2 template API as Template.build. No docker, no e2b.toml: E2B_API_KEY and
  // E2B_API_URL (here from sandboxd.env) are all it needs. (`e2b template build` is the removed v1 docker path.)
  const cliBin = path.join(import.meta.dirname, '../node_modules/@e2b/cli/dist/index.js')
  const cli = (args, cwd) => new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliBin, ...args], {
      cwd, stdio: ['ignore', 'pipe', 'pipe'],
      // A HOME of its own: no ~/.e2b/config.json of this machine's user is read or written.
      env: { ...process.env, HOME: cwd, NO_UPDATE_NOTIFIER: '1', FORCE_COLOR: '0', E2B_DEBUG: '' },
    })
    let stdout = '', stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`e2b ${args.join(' ')} timed out:\n${stdout}\n${stderr}`)) }, 10 * 60_000)
    child.on('error', reject)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, all: `${stdout}\n${stderr}` }) })
  })
  const cliDir = (dockerfile) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sbxp-cli-'))
    mkdirSync(path.join(dir, 'app/sub'), { recursive: true })
    writeFileSync(path.join(dir, 'app/hello.txt'), 'hello from the CLI context\n')
    writeFileSync(path.join(dir, 'app/sub/run.sh'), '#!/bin/sh\necho ran-from-cli-copy\n', { mode: 0o755 })
    writeFileSync(path.join(dir, 'Dockerfile'), dockerfile)
    return dir
  }

  test('template builds: the e2b CLI builds a Dockerfile, a sandbox from it shows every instruction', async () => {
    const tplName = `sbxp-cli-${process.pid}`
    const dir = cliDir(`FROM e2bdev/base
ENV RUN_ID=${runId}
ARG APP_VERSION=1.2.3
ENV GREETING=hello-from-env MOTTO=keep-going
RUN mkdir -p /opt/data && echo "$APP_VERSION $GREETING" > /opt/data/build.txt
COPY --chown=user:user app /opt/app/
COPY app/sub/run.sh /usr/local/bin/
WORKDIR /opt/work
RUN pwd > /opt/data/pwd.txt && chown user:user /opt/work
USER user
RUN whoami > /opt/work/whoami.txt && echo "$MOTTO" > /home/user/motto.txt
CMD ["python3", "-m", "http.server", "8124", "--bind", "127.0.0.1"]
`)
    let sbx
    try {
      assert.equal(await Template.exists(tplName), false)
      const t0 = performance.now()
      const r = await cli(['template', 'create', tplName, '--path', dir, '--cpu-count', '1', '--memory-mb', '512'], dir)
      const buildMs = performance.now() - t0
      assert.equal(r.code, 0, r.all)
      assert.match(r.stdout, /Found \.\/Dockerfile that will be used to build the sandbox template/, r.all)
      assert.match(r.all, /Building sandbox template .*finished/, r.all)
      assert.ok(!/Unsupported instruction/.test(r.all), r.all)
      assert.equal(await Template.exists(tplName), true)

      const t1 = performance.now()
      sbx = await Sandbox.create(tplName)
      const createMs = performance.now() - t1
      const run = async (cmd) => (await sbx.commands.run(cmd)).stdout.trim()
      assert.equal(await run('cat /opt/data/build.txt'), '1.2.3 hello-from-env', 'ARG and ENV reach RUN')
      assert.equal(await run('echo "$GREETING $MOTTO $APP_VERSION $RUN_ID"'), `hello-from-env keep-going 1.2.3 ${runId}`,
        'ENV (and ARG, which the CLI makes an ENV) reach the sandbox')
      assert.equal(await run('cat /opt/app/hello.txt'), 'hello from the CLI context', 'COPY of a folder')
      assert.equal(await run('stat -c %U:%G /opt/app/hello.txt /opt/app/sub/run.sh'), 'user:user\nuser:user', 'COPY --chown=user:user')
      assert.equal(await run('/opt/app/sub/run.sh'), 'ran-from-cli-copy', 'copied files keep their mode')
      assert.equal(await run('stat -c %U /usr/local/bin/run.sh && run.sh'), 'root\nran-from-cli-copy',
        'COPY of one file into a directory, as root (the Dockerfile default) before USER')
      assert.equal(await run('cat /opt/data/pwd.txt'), '/opt/work', 'WORKDIR is where later RUNs run')
      assert.equal(await run('cat /opt/work/whoami.txt /home/user/motto.txt'), 'user\nkeep-going', 'USER runs later RUNs as that user')
      // CMD: the start command runs, as the last USER, in the last WORKDIR (it serves /opt/work).
      assert.equal(await run('curl -s http://127.0.0.1:8124/whoami.txt'), 'user', 'the CMD process serves the workdir')
      assert.equal(await run("for p in $(pgrep -f '^python3 -m http.server 8124'); do stat -c %U /proc/$p; done"), 'user',
        'the CMD process runs as USER')
      console.log(`e2b CLI template create: ${(buildMs / 1000).toFixed(1)} s; create from it ${createMs.toFixed(0)} ms `
        + "(the CLI's CMD brings the ready command `sleep 20`, which ran when the pool started the jail)")
    } finally {
      await sbx?.kill()
      const del = await api('DELETE', `/templates/${tplName}`)
      rmSync(dir, { recursive: true, force: true })
      assert.ok([204, 404].includes(del.status), JSON.stringify(del.json))
    }
  })

  test('template builds: the e2b CLI and bad Dockerfiles: unsupported instructions named, refusals clear, nothing else breaks', async () => {
    const dirs = []
    const names = []
    try {
      // The CLI's parser skips what it cannot map (HEALTHCHECK, STOPSIGNAL, SHELL, ONBUILD, LABEL, ...) with a warning
      // naming it; the daemon never sees those instructions. The rest of the Dockerfile is built.
      const skipped = cliDir(`FROM e2bdev/base
ENV RUN_ID=${runId}-skipped
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
STOPSIGNAL SIGTERM
RUN echo built > /home/user/built.txt
`)
      dirs.push(skipped)
      const skippedName = `sbxp-cli-skip-${process.pid}`
      names.push(skippedName)
      const r1 = await cli(['template', 'create', skippedName, '--path', skipped], skipped)
      assert.equal(r1.code, 0, r1.all)
      assert.match(r1.stderr, /Unsupported instruction: HEALTHCHECK/, r1.all)
      assert.match(r1.stderr, /Unsupported instruction: STOPSIGNAL/, r1.all)
      const sbx = await Sandbox.create(skippedName)
      try {
        assert.equal((await sbx.commands.run('cat /home/user/built.txt')).stdout.trim(), 'built')
      } finally {
        await sbx.kill()
      }

      // Refused by the CLI before any API call: a multi-stage Dockerfile.
      const multi = cliDir('FROM e2bdev/base AS build\nRUN true\nFROM e2bdev/base\nCOPY --from=build /etc/hostname /x\n')
      dirs.push(multi)
      const multiName = `sbxp-cli-multi-${process.pid}`
      names.push(multiName)
      const r2 = await cli(['template', 'create', multiName, '--path', multi], multi)
      assert.equal(r2.code, 1, r2.all)
      assert.match(r2.all, /Multi-stage Dockerfiles are not supported/, r2.all)
      assert.equal(await Template.exists(multiName), false, 'nothing was created')

      // Refused by the daemon: the build fails at the step, and the CLI says which and why.
      const badUser = cliDir(`FROM e2bdev/base\nENV RUN_ID=${runId}-baduser\nUSER nobody-here\nRUN true\n`)
      dirs.push(badUser)
      const badUserName = `sbxp-cli-baduser-${process.pid}`
      names.push(badUserName)
      const r3 = await cli(['template', 'create', badUserName, '--path', badUser], badUser)
      assert.equal(r3.code, 1, r3.all)
      assert.match(r3.all, /Template build failed/, r3.all)
      assert.match(r3.all, /user nobody-here does not exist in the template/, r3.all)

      // The deprecated v1 command (the docker registry path) says so and exits 1, building nothing.
      const r4 = await cli(['template', 'build'], multi)
      assert.equal(r4.code, 1, r4.all)
      assert.match(r4.all, /DEPRECATION WARNING/, r4.all)

      // and the daemon still builds and serves sandboxes
      const ok = await Sandbox.create()
      try {
        assert.equal((await ok.commands.run('echo ok')).stdout.trim(), 'ok')
      } finally {
        await ok.kill()
      }
    } finally {
      for (const n of names) {
        const del = await api('DELETE', `/templates/${n}`)
        assert.ok([204, 404].includes(del.status), `${n}: ${del.status} ${JSON.stringify(del.json)}`)
      }
      for (const d of dirs) rmSync(d, { recursive: true, force: true })
    }
  })
})

describe('e2e: snapshots and forks (SDK 2.51)', { skip: skip ?? false, timeout: 20 * 60_000 }, () => {
  before(startDaemon, { timeout: 20 * 60_000 })
  after(stopDaemon, { timeout: 90_000 })

  let Sandbox
  before(async () => { ({ Sandbox } = await import('e2b-2.51')) })
  const name = `sbxp-snap-${process.pid}`

  test('snapshots: a running sandbox captured by name, listed, started from with its files, deleted once unused', async () => {
    const src = await Sandbox.create()
    const made = []
    try {
      await src.files.write('/home/user/state.txt', 'captured state\n')
      await src.commands.run('rm /home/user/.bashrc && mkdir -p /tmp/gone && echo later > /home/user/later.txt', { user: 'user' })
      const t0 = performance.now()
      const snap = await src.createSnapshot({ name })
      const snapshotMs = performance.now() - t0
      assert.equal(snap.snapshotId, `${name}:default`)
      assert.deepEqual(snap.names, [`${name}:default`])
      // the source runs on as it was
      assert.equal((await Sandbox.getInfo(src.sandboxId)).state, 'running')
      assert.equal((await src.commands.run('cat /home/user/state.txt')).stdout, 'captured state\n')

      const listed = await Sandbox.listSnapshots({ sandboxId: src.sandboxId }).nextItems()
      assert.deepEqual(listed.map((s) => s.snapshotId), [snap.snapshotId])
      assert.equal((await Sandbox.listSnapshots({ sandboxId: 'nosuchsandbox' }).nextItems()).length, 0)
      const templates = await api('GET', '/templates')
      assert.equal(templates.status, 200)
      assert.ok(!templates.json.some((t) => (t.aliases ?? []).includes(name)), 'snapshots are not in the template list')

      const t1 = performance.now()
      const child = await Sandbox.create(snap.snapshotId)
      const createMs = performance.now() - t1
      made.push(child)
      assert.equal((await child.commands.run('cat /home/user/state.txt')).stdout, 'captured state\n')
      assert.equal((await child.commands.run('test -e /home/user/.bashrc; echo $?')).stdout.trim(), '1',
        'a file deleted before the capture stays deleted (the overlay whiteout is kept)')
      assert.equal((await child.commands.run('whoami && pwd')).stdout, 'user\n/home/user\n')
      await child.files.write('/home/user/child.txt', 'only here')
      assert.equal((await src.commands.run('test -e /home/user/child.txt; echo $?')).stdout.trim(), '1',
        'the child writes its own files, not the source\'s')
      // by the bare name too, as Sandbox.create(name) is usually written
      const byName = await Sandbox.create(name)
      made.push(byName)
      assert.equal((await byName.commands.run('cat /home/user/later.txt')).stdout, 'later\n')

      // in use: refused, clearly; unused: deleted; again: false (404)
      const refused = await api('DELETE', `/templates/${encodeURIComponent(snap.snapshotId)}`)
      assert.equal(refused.status, 409, JSON.stringify(refused.json))
      assert.match(refused.json.message, /used by 2 sandbox/)
      for (const s of made.splice(0)) await s.kill()
      assert.equal(await Sandbox.deleteSnapshot(snap.snapshotId), true)
      assert.equal(await Sandbox.deleteSnapshot(snap.snapshotId), false)
      assert.equal((await Sandbox.listSnapshots({ sandboxId: src.sandboxId }).nextItems()).length, 0)
      await assert.rejects(Sandbox.create(snap.snapshotId), /not found/)
      console.log(`# snapshot of a sandbox: ${snapshotMs.toFixed(0)} ms; create from it: ${createMs.toFixed(0)} ms`)
    } finally {
      for (const s of made) await s.kill().catch(() => {})
      await src.kill()
    }
  })

  test('snapshots: a paused sandbox stays paused; unnamed snapshots are named by ID; a snapshot of a snapshot survives its parent only while needed', async () => {
    const src = await Sandbox.create()
    let child
    try {
      await src.files.write('/home/user/one.txt', '1')
      assert.equal(await src.pause(), true)
      const first = await Sandbox.createSnapshot(src.sandboxId)
      assert.match(first.snapshotId, /^[a-z0-9]{20}:default$/)
      assert.deepEqual(first.names, [])
      assert.equal((await Sandbox.getInfo(src.sandboxId)).state, 'paused', 'a paused sandbox stays paused')
      await src.connect()
      assert.equal((await src.commands.run('cat /home/user/one.txt')).stdout, '1')

      child = await Sandbox.create(first.snapshotId)
      await child.files.write('/home/user/two.txt', '2')
      const second = await child.createSnapshot()
      await child.kill()
      child = undefined
      const parentDelete = await api('DELETE', `/templates/${encodeURIComponent(first.snapshotId)}`)
      assert.equal(parentDelete.status, 409, 'the second snapshot stands on the first one\'s layer')
      assert.match(parentDelete.json.message, /built on/)
      const grandchild = await Sandbox.create(second.snapshotId)
      try {
        assert.equal((await grandchild.commands.run('cat /home/user/one.txt /home/user/two.txt')).stdout, '12')
      } finally {
        await grandchild.kill()
      }
      assert.equal(await Sandbox.deleteSnapshot(second.snapshotId), true)
      assert.equal(await Sandbox.deleteSnapshot(first.snapshotId), true)

      await assert.rejects(Sandbox.createSnapshot('nosuchsandbox'), (e) => e.name === 'SandboxNotFoundError')
      const badName = await api('POST', `/sandboxes/${src.sandboxId}/snapshots`, { name: 'Bad Name!' })
      assert.equal(badName.status, 400)
    } finally {
      if (child) await child.kill().catch(() => {})
      await src.kill()
    }
  })

  test('fork: count sandboxes from one capture, each with the source\'s files, the source untouched, the capture swept when they are gone', async () => {
    const src = await Sandbox.create({ metadata: { purpose: 'fork-source' } })
    let forks = []
    try {
      await src.files.write('/home/user/work.txt', 'half done')
      const endBefore = (await Sandbox.getInfo(src.sandboxId)).endAt
      const t0 = performance.now()
      forks = await src.fork({ count: 2, timeoutMs: 120_000 })
      const forkMs = performance.now() - t0
      assert.equal(forks.length, 2)
      for (const f of forks) {
        assert.ok(!(f instanceof Error), String(f))
        assert.notEqual(f.sandboxId, src.sandboxId)
        assert.equal((await f.commands.run('cat /home/user/work.txt')).stdout, 'half done')
        const info = await Sandbox.getInfo(f.sandboxId)
        assert.equal(info.metadata.purpose, 'fork-source', 'a fork keeps the source\'s metadata')
      }
      await forks[0].files.write('/home/user/work.txt', 'fork 0 went on')
      assert.equal((await forks[1].commands.run('cat /home/user/work.txt')).stdout, 'half done')
      assert.equal((await src.commands.run('cat /home/user/work.txt')).stdout, 'half done')
      const srcInfo = await Sandbox.getInfo(src.sandboxId)
      assert.equal(srcInfo.state, 'running')
      assert.equal(String(srcInfo.endAt), String(endBefore), 'the source keeps its TTL')
      assert.equal((await Sandbox.listSnapshots({ sandboxId: src.sandboxId }).nextItems()).length, 0,
        'a fork\'s capture is not a snapshot')

      const captureTemplate = (await Sandbox.getInfo(forks[0].sandboxId)).templateId
      const captureDir = path.join(dataDir, 'templates', captureTemplate)
      assert.ok(existsSync(captureDir), captureDir)
      for (const f of forks) await f.kill()
      forks = []
      await waitFor('the fork capture to be swept', async () => !existsSync(captureDir), 60_000)

      const bad = await api('POST', `/sandboxes/${src.sandboxId}/fork`, { count: 0 })
      assert.equal(bad.status, 400)
      const missing = await api('POST', '/sandboxes/nosuchsandbox/fork', {})
      assert.equal(missing.status, 404)
      console.log(`# fork of a sandbox into 2: ${forkMs.toFixed(0)} ms`)
    } finally {
      for (const f of forks) if (!(f instanceof Error)) await f.kill().catch(() => {})
      await src.kill()
    }
  })
})

describe('e2e: code-interpreter template', { skip: skip ?? false, timeout: 30 * 60_000 }, () => {
  // Build jails carry this prefix so that leftovers of a test run are recognisable on the host.
  before(async () => { process.env.SANDBOXD_BUILD_JAIL_PREFIX = 'sbxp'; await startDaemon() }, { timeout: 20 * 60_000 })
  after(stopDaemon, { timeout: 90_000 })

  // The template is built by the repo's own script, with the same SDK builder a user has; the sandbox is driven by
  // the unmodified @e2b/code-interpreter package.
  let sdk, CodeInterpreter, recipeScript
  before(async () => {
    sdk = await import('e2b-2.51')
    CodeInterpreter = await import('@e2b/code-interpreter')
    recipeScript = await import('../../templates/code-interpreter/build.mjs')
  })
  const name = 'code-interpreter'

  /** One request to the proxy by host name (`<port>-<sandboxID>.<domain>`), not by the SDK's E2b-Sandbox-* headers. */
  async function viaProxyHost(sbx, port, method, urlPath) {
    const http = await import('node:http')
    const proxy = new URL(env.E2B_SANDBOX_URL)
    return new Promise((resolve, reject) => {
      const req = http.request({ host: proxy.hostname, port: Number(proxy.port), method, path: urlPath,
        headers: { Host: `${port}-${sbx.sandboxId}.${env.E2B_DOMAIN}` } }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d) => { body += d })
        res.on('end', () => resolve({ status: res.statusCode, body }))
      })
      req.on('error', reject)
      req.end()
    })
  }

  test('code-interpreter: built by templates/code-interpreter/build.mjs, runCode through the proxy to Jupyter kernels', async () => {
    const logs = []
    const buildMs = await recipeScript.build(sdk, { name, onBuildLogs: (l) => logs.push(l) })
    const text = logs.map((l) => `${l.level} ${l.message}`).join('\n')
    assert.match(text, /build finished/, text)
    assert.equal(await sdk.Template.exists(name), true)
    // The SDK's default name too, as the script does: all cached, and Sandbox.create() with no name works.
    const again = []
    await recipeScript.build(sdk, { name: recipeScript.SDK_DEFAULT_NAME, onBuildLogs: (l) => again.push(l) })
    assert.match(again.map((l) => l.message).join('\n'), /0 step\(s\) built/)
    assert.equal(CodeInterpreter.Sandbox.defaultTemplate, recipeScript.SDK_DEFAULT_NAME)
    const unnamed = await CodeInterpreter.Sandbox.create()
    try {
      assert.equal((await unnamed.runCode('2**10')).text, '1024')
    } finally {
      await unnamed.kill()
    }
    assert.equal((await api('DELETE', `/templates/${recipeScript.SDK_DEFAULT_NAME}`)).status, 204)

    const t0 = performance.now()
    const sbx = await CodeInterpreter.Sandbox.create(name)
    const createMs = performance.now() - t0
    try {
      // The server's own self-test, in the sandbox it serves: real kernels, the template's packages.
      const self = await sbx.commands.run('python3 /opt/code-interpreter/server.py --self-test 2>&1', { timeoutMs: 180_000 })
        .catch((e) => e.result ?? e)
      assert.equal(self.exitCode, 0, self.stdout ?? String(self))

      const ex = await sbx.runCode('x = 1+1\nx')
      assert.equal(ex.text, '2')
      assert.equal(ex.error, undefined)
      assert.ok(ex.executionCount >= 1, `executionCount ${ex.executionCount}`)

      // stdout and stderr stream: the first line arrives while the cell still sleeps.
      const seen = []
      const t1 = performance.now()
      const streamed = await sbx.runCode('import sys, time\nprint("first", flush=True)\ntime.sleep(1.5)\nprint("second")\n'
        + 'print("to-stderr", file=sys.stderr)', {
        onStdout: (m) => seen.push({ line: m.line, at: performance.now() - t1 }),
        onStderr: (m) => seen.push({ line: m.line, err: true, at: performance.now() - t1 }),
      })
      const endAt = performance.now() - t1
      assert.deepEqual(streamed.logs.stdout.join(''), 'first\nsecond\n')
      assert.deepEqual(streamed.logs.stderr.join(''), 'to-stderr\n')
      assert.equal(seen[0].line, 'first\n')
      assert.ok(seen[0].at + 1000 < endAt, `'first' came at ${seen[0].at.toFixed(0)} ms, the cell ended at ${endAt.toFixed(0)} ms`)
      assert.ok(seen.some((m) => m.err && m.line === 'to-stderr\n'), JSON.stringify(seen))

      // An exception: name, value, traceback.
      const failed = await sbx.runCode('def f():\n    raise ValueError("bad value")\nf()')
      assert.equal(failed.error?.name, 'ValueError')
      assert.equal(failed.error.value, 'bad value')
      assert.match(failed.error.traceback, /raise ValueError\("bad value"\)/)
      assert.equal(failed.text, undefined)

      // State between calls of the default context; a second context does not see it.
      await sbx.runCode('kept = 41')
      assert.equal((await sbx.runCode('kept + 1')).text, '42')
      assert.equal((await sbx.runCode('kept', { language: 'python' })).text, '41', "language 'python' is the default context")
      const ctx = await sbx.createCodeContext({ cwd: '/tmp' })
      assert.equal(ctx.language, 'python')
      assert.equal(ctx.cwd, '/tmp')
      const isolated = await sbx.runCode('kept', { context: ctx })
      assert.equal(isolated.error?.name, 'NameError')
      await sbx.runCode('mine = "second context"', { context: ctx })
      assert.equal((await sbx.runCode('import os\nos.getcwd() + " " + mine', { context: ctx })).text, '/tmp second context')
      assert.equal((await sbx.runCode('"mine" in globals()')).text, 'False')
      assert.ok((await sbx.listCodeContexts()).some((c) => c.id === ctx.id))
      await sbx.removeCodeContext(ctx)
      assert.ok(!(await sbx.listCodeContexts()).some((c) => c.id === ctx.id))

      // Per-run environment variables, bash (no state between cells) and a language this template lacks.
      assert.equal((await sbx.runCode('import os\nos.environ["ONE_RUN"]', { envs: { ONE_RUN: 'yes' } })).text, 'yes')
      assert.equal((await sbx.runCode('import os\nos.environ.get("ONE_RUN", "gone")')).text, 'gone')
      const sh = await sbx.runCode('echo "bash says $((6*7))"', { language: 'bash' })
      assert.deepEqual(sh.logs.stdout, ['bash says 42\n'])
      await assert.rejects(sbx.runCode('1', { language: 'r' }), /language 'r' is not available in this template/)

      // The SDK's timeoutMs aborts the request; the proxy closes the port's connection and the server interrupts
      // the cell, so the context is free again at once rather than after the cell's 60 s.
      await assert.rejects(sbx.runCode('import time\nfor _ in range(60): time.sleep(1)', { timeoutMs: 1500 }), /timed out/)
      const t2 = performance.now()
      assert.equal((await sbx.runCode('"after the timeout"')).text, 'after the timeout')
      assert.ok(performance.now() - t2 < 10_000, `the next cell waited ${(performance.now() - t2).toFixed(0)} ms`)

      // The port is reached through the proxy by host name as well (the SDK itself routes by headers).
      const health = await viaProxyHost(sbx, 49999, 'GET', '/health')
      assert.equal(health.status, 200, health.body)
      const listed = await viaProxyHost(sbx, 49999, 'GET', '/contexts')
      assert.ok(JSON.parse(listed.body).some((c) => c.language === 'python'), listed.body)

      // Latency of a trivial cell through the SDK, the proxy and the kernel.
      const times = []
      for (let i = 0; i < 20; i++) {
        const s = performance.now()
        assert.equal((await sbx.runCode('1+1')).text, '2')
        times.push(performance.now() - s)
      }
      times.sort((a, b) => a - b)
      console.log(`code-interpreter: template build ${(buildMs / 1000).toFixed(1)} s, create ${createMs.toFixed(0)} ms, `
        + `runCode('1+1') p50 ${times[10].toFixed(1)} ms, max ${times[19].toFixed(1)} ms`)
    } finally {
      await sbx.kill()
    }

    // A secure sandbox with private traffic: the SDK sends the traffic token (and the envd token on /execute);
    // the port refuses a request without it at the proxy.
    const priv = await CodeInterpreter.Sandbox.create(name, { secure: true, network: { allowPublicTraffic: false } })
    try {
      assert.match(priv.trafficAccessToken ?? '', /^[0-9a-f]{64}$/)
      assert.equal((await priv.runCode('6*7')).text, '42')
      const pctx = await priv.createCodeContext()
      assert.equal((await priv.runCode('"own"', { context: pctx })).text, 'own')
      assert.equal((await viaProxyHost(priv, 49999, 'GET', '/health')).status, 403)
    } finally {
      await priv.kill()
    }
    assert.equal((await api('DELETE', `/templates/${name}`)).status, 204)
    assert.equal(await sdk.Template.exists(name), false)
  })
})

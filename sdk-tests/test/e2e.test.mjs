// End to end: `./sandboxd serve` on free ports, driven by the unmodified E2B SDKs (not debug mode) through the
// env file the daemon writes when ready. Needs root, runc and debootstrap; the base template is built once into
// a cached data dir (SANDBOXD_E2E_DATA_DIR, default /var/tmp/sandboxd-e2e), so only the first run takes minutes.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, readFileSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import path from 'node:path'

const repo = path.resolve(import.meta.dirname, '../..')
const dataDir = process.env.SANDBOXD_E2E_DATA_DIR ?? '/var/tmp/sandboxd-e2e'
const envFile = path.join(dataDir, 'sandboxd.env')
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
let env

async function startDaemon() {
  mkdirSync(dataDir, { recursive: true })
  const [api, proxy] = [await freePort(), await freePort()]
  daemon = spawn(path.join(repo, 'sandboxd'), ['serve', '--data-dir', dataDir, '--api-port', String(api),
    '--proxy-port', String(proxy), '--warm-pool', '1'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] })
  daemon.stdout.on('data', (d) => { output += d })
  daemon.stderr.on('data', (d) => { output += d })
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
  for (const k of ['E2B_API_URL', 'E2B_SANDBOX_URL', 'E2B_DOMAIN', 'E2B_API_KEY', 'E2B_ACCESS_TOKEN']) {
    assert.ok(env[k], `${k} in sandboxd.env`)
    process.env[k] = env[k]
  }
  delete process.env.E2B_DEBUG
  assert.equal(env.E2B_API_URL, `http://127.0.0.1:${api}`)
  assert.equal(env.E2B_SANDBOX_URL, `http://127.0.0.1:${proxy}`)
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

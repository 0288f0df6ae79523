// commands.* of the unmodified E2B SDK (both pinned versions) against envd.jar in debug mode.
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startEnvd, sdks, ensureTemplateUser } from './helpers/envd.mjs'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

let envd
let templateUser
before(async () => {
  templateUser = ensureTemplateUser()
  envd = await startEnvd()
})
after(async () => {
  await envd?.stop()
})

for (const [version, load] of Object.entries(sdks)) {
  describe(`commands with e2b ${version}`, () => {
    let e2b
    let sbx
    before(async () => {
      e2b = await load()
      sbx = await e2b.Sandbox.create()
    })

    test('run returns stdout, stderr and exit code 0', async () => {
      const r = await sbx.commands.run('echo out; echo err >&2')
      assert.equal(r.exitCode, 0)
      assert.equal(r.stdout, 'out\n')
      assert.equal(r.stderr, 'err\n')
    })

    test('a non-zero exit throws CommandExitError with the output and "exit status N"', async () => {
      await assert.rejects(sbx.commands.run('echo partial; echo bad >&2; exit 3'), (e) => {
        assert.ok(e instanceof e2b.CommandExitError, `got ${e}`)
        assert.equal(e.exitCode, 3)
        assert.equal(e.stdout, 'partial\n')
        assert.equal(e.stderr, 'bad\n')
        assert.equal(e.error, 'exit status 3')
        return true
      })
    })

    test('onStdout/onStderr receive output as it is produced', async () => {
      const out = []
      const err = []
      await sbx.commands.run('for i in 1 2 3; do echo o$i; echo e$i >&2; done', {
        onStdout: (d) => out.push(d),
        onStderr: (d) => err.push(d),
      })
      assert.equal(out.join(''), 'o1\no2\no3\n')
      assert.equal(err.join(''), 'e1\ne2\ne3\n')
    })

    test('envs override the sandbox environment; HOME, USER, LOGNAME come from the user', async () => {
      const r = await sbx.commands.run('echo "$FOO|$HOME|$USER|$LOGNAME"', { envs: { FOO: 'bar baz' }, user: 'user' })
      assert.equal(r.stdout, 'bar baz|/home/user|user|user\n')
      // later wins: the request's envs beat what envd sets itself
      const home = await sbx.commands.run('echo $HOME', { envs: { HOME: '/srv' }, user: 'user' })
      assert.equal(home.stdout, '/srv\n')
    })

    test('cwd is honoured and a missing cwd is an InvalidArgumentError', async () => {
      assert.equal((await sbx.commands.run('pwd', { cwd: '/tmp' })).stdout, '/tmp\n')
      assert.equal((await sbx.commands.run('pwd', { user: 'user' })).stdout, '/home/user\n')
      await assert.rejects(sbx.commands.run('pwd', { cwd: '/does/not/exist' }), e2b.InvalidArgumentError)
    })

    test('user selects uid, gid and groups; an unknown user is an AuthenticationError', async () => {
      const asUser = await sbx.commands.run('id -u; id -g; id -un', { user: 'user' })
      assert.equal(asUser.stdout, `${templateUser.uid}\n${templateUser.gid}\nuser\n`)
      const asRoot = await sbx.commands.run('id -u', { user: 'root' })
      assert.equal(asRoot.stdout, '0\n')
      await assert.rejects(sbx.commands.run('true', { user: 'nobody-such-user' }), e2b.AuthenticationError)
    })

    test('background + list + connect + kill', async () => {
      let sawOutput
      const started = new Promise((r) => { sawOutput = r })
      const h = await sbx.commands.run('echo started; sleep 30', { background: true, onStdout: () => sawOutput() })
      assert.ok(h.pid > 0)
      await started
      const listed = await sbx.commands.list()
      const mine = listed.find((p) => p.pid === h.pid)
      assert.ok(mine, `pid ${h.pid} not in ${JSON.stringify(listed)}`)
      assert.equal(mine.cmd, '/bin/bash')
      assert.deepEqual(mine.args, ['-l', '-c', 'echo started; sleep 30'])

      const connected = await sbx.commands.connect(h.pid)
      assert.equal(connected.pid, h.pid)
      assert.equal(await sbx.commands.kill(h.pid), true)
      for (const handle of [h, connected]) {
        await assert.rejects(handle.wait(), (e) => {
          assert.ok(e instanceof e2b.CommandExitError, `got ${e}`)
          assert.equal(e.exitCode, -1)
          assert.equal(e.error, 'signal: killed')
          return true
        })
      }
      assert.equal(h.stdout, 'started\n')
      assert.equal(await sbx.commands.kill(h.pid), false, 'killing an ended process reports false')
      assert.ok(!(await sbx.commands.list()).some((p) => p.pid === h.pid))
    })

    test('closing the starting request does not kill a background command', async () => {
      const h = await sbx.commands.run('sleep 2; echo survived', { background: true })
      await h.disconnect()
      await sleep(200)
      assert.ok((await sbx.commands.list()).some((p) => p.pid === h.pid), 'still running after disconnect')
      const again = await sbx.commands.connect(h.pid)
      const r = await again.wait()
      assert.equal(r.exitCode, 0)
      assert.equal(r.stdout, 'survived\n')
    })

    test('connect to a process that just ended still gets its end', async () => {
      const h = await sbx.commands.run('exit 5', { background: true })
      await assert.rejects(h.wait(), e2b.CommandExitError)
      const late = await sbx.commands.connect(h.pid)
      await assert.rejects(late.wait(), (e) => e instanceof e2b.CommandExitError && e.exitCode === 5)
    })

    test('connect to an unknown pid is a NotFoundError-like failure', async () => {
      await assert.rejects(sbx.commands.connect(999_999), (e) => e instanceof e2b.SandboxError || e instanceof e2b.NotFoundError)
    })

    test('sendStdin and closeStdin reach a command started with stdin', async () => {
      const h = await sbx.commands.run('cat; echo done', { background: true, stdin: true })
      await sbx.commands.sendStdin(h.pid, 'hello ')
      await sbx.commands.sendStdin(h.pid, 'world\n')
      await sbx.commands.closeStdin(h.pid)
      const r = await h.wait()
      assert.equal(r.stdout, 'hello world\ndone\n')
    })

    test('without stdin the command reads /dev/null', async () => {
      const r = await sbx.commands.run('cat; echo eof')
      assert.equal(r.stdout, 'eof\n')
    })

    test('timeoutMs kills the command at the deadline', async () => {
      const t0 = Date.now()
      await assert.rejects(sbx.commands.run('echo begin; sleep 30', { timeoutMs: 700 }), e2b.TimeoutError)
      const took = Date.now() - t0
      assert.ok(took < 5000, `took ${took} ms`)
      await sleep(100)
      const left = await sbx.commands.list()
      assert.ok(!left.some((p) => p.args?.[2] === 'echo begin; sleep 30'), `still running: ${JSON.stringify(left)}`)
    })

    test('a command killed by a signal of its own reports the signal', async () => {
      await assert.rejects(sbx.commands.run('kill -TERM $$'), (e) => {
        assert.equal(e.exitCode, -1)
        assert.equal(e.error, 'signal: terminated')
        return true
      })
    })

    test('large output arrives complete and in order', async () => {
      const r = await sbx.commands.run('seq 1 200000')
      const lines = r.stdout.trimEnd().split('\n')
      assert.equal(lines.length, 200000)
      assert.equal(lines[0], '1')
      assert.equal(lines[199999], '200000')
    })
  })
}

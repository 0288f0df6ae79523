// sandbox.pty.* of the unmodified E2B SDK (both pinned versions) against envd.jar in debug mode.
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startEnvd, sdks, ensureTemplateUser } from './helpers/envd.mjs'

let envd
before(async () => {
  ensureTemplateUser()
  envd = await startEnvd()
})
after(async () => {
  await envd?.stop()
})

/** Collects PTY output and resolves when it matches. */
function terminal() {
  const decoder = new TextDecoder()
  let text = ''
  const waiters = []
  return {
    onData(bytes) {
      text += decoder.decode(bytes, { stream: true })
      for (const w of [...waiters]) {
        if (w.re.test(text)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(text)
        }
      }
    },
    text: () => text,
    waitFor(re, ms = 10_000) {
      if (re.test(text)) return Promise.resolve(text)
      return new Promise((resolve, reject) => {
        const w = { re, resolve }
        waiters.push(w)
        setTimeout(() => reject(new Error(`no ${re} in PTY output within ${ms} ms:\n${text}`)), ms).unref()
      })
    },
  }
}

const input = (s) => new TextEncoder().encode(s)

for (const [version, load] of Object.entries(sdks)) {
  describe(`pty with e2b ${version}`, () => {
    let e2b
    let sbx
    before(async () => {
      e2b = await load()
      sbx = await e2b.Sandbox.create()
    })

    test('create, sendInput, output, resize, kill', async () => {
      const term = terminal()
      const h = await sbx.pty.create({ cols: 80, rows: 24, onData: term.onData, user: 'user' })
      assert.ok(h.pid > 0)

      await sbx.pty.sendInput(h.pid, input('echo "answer=$((6*7)) $TERM $LANG"\n'))
      await term.waitFor(/answer=42 xterm-256color C\.UTF-8/)

      // a real terminal: stdin is a tty, and it is the controlling terminal of the shell's session
      await sbx.pty.sendInput(h.pid, input('test -t 0 && echo "istty=yes"; ps -o tty= -p $$ | sed "s/^/ctty=/"\n'))
      await term.waitFor(/istty=yes/)
      await term.waitFor(/ctty=pts\/\d+/)

      await sbx.pty.sendInput(h.pid, input('stty size | sed "s/^/size=/"\n'))
      await term.waitFor(/size=24 80/)
      await sbx.pty.resize(h.pid, { cols: 120, rows: 40 })
      await sbx.pty.sendInput(h.pid, input('stty size | sed "s/^/size=/"\n'))
      await term.waitFor(/size=40 120/)

      const listed = await sbx.commands.list()
      assert.ok(listed.some((p) => p.pid === h.pid), 'a PTY is listed with the commands')

      assert.equal(await sbx.pty.kill(h.pid), true)
      await assert.rejects(h.wait(), (e) => {
        assert.equal(e.exitCode, -1)
        assert.equal(e.error, 'signal: killed')
        return true
      })
      assert.equal(await sbx.pty.kill(h.pid), false)
    })

    test('the shell exiting ends the PTY with its exit code', async () => {
      const term = terminal()
      const h = await sbx.pty.create({ cols: 80, rows: 24, onData: term.onData })
      await sbx.pty.sendInput(h.pid, input('exit 7\n'))
      await assert.rejects(h.wait(), (e) => e.exitCode === 7)
    })

    test('connect to a running PTY receives its further output', async () => {
      const first = terminal()
      const h = await sbx.pty.create({ cols: 80, rows: 24, onData: first.onData })
      const second = terminal()
      const c = await sbx.pty.connect(h.pid, { onData: second.onData })
      await sbx.pty.sendInput(h.pid, input('echo "late=$((40+2))"\n'))
      await second.waitFor(/late=42/)
      await sbx.pty.kill(h.pid)
      await assert.rejects(c.wait())
    })
  })
}

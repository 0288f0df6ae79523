// Starts envd.jar on a free port and points the E2B SDK at it (debug mode: no API calls, no token).
// Shared by every suite: import { startEnvd, sdks } from './helpers/envd.mjs'
import { spawn, execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
export const repoRoot = path.resolve(here, '../../..')
export const envdJar = process.env.ENVD_JAR ?? path.join(repoRoot, 'envd/target/envd.jar')

/** The JDK 25 java: $JAVA_HOME, else the Temurin 25 package path, else `java` on PATH. */
export function javaBinary() {
  const candidates = [
    process.env.JAVA_HOME && path.join(process.env.JAVA_HOME, 'bin/java'),
    '/usr/lib/jvm/temurin-25-jdk-amd64/bin/java',
  ].filter(Boolean)
  return candidates.find((c) => existsSync(c)) ?? 'java'
}

/** Both pinned SDK versions, by label; every suite runs against each. */
export const sdks = {
  '2.51.0': () => import('e2b-2.51'),
  '2.45.0': () => import('e2b-2.45'),
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/**
 * Starts envd and waits for GET /health. Sets E2B_DEBUG and E2B_SANDBOX_URL for the SDK.
 * Returns { url, port, stop(), logs() }.
 */
export async function startEnvd({ args = [], prefix = [] } = {}) {
  if (!existsSync(envdJar)) {
    throw new Error(`${envdJar} is missing: build it with ./mvnw -q -pl envd -am package -DskipTests`)
  }
  const port = await freePort()
  let output = ''
  const argv = [...prefix, javaBinary(), '-jar', envdJar, '--port', String(port), ...args]
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout.on('data', (d) => { output += d })
  child.stderr.on('data', (d) => { output += d })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`envd exited with ${child.exitCode}:\n${output}`)
    try {
      const r = await fetch(`${url}/health`)
      if (r.status === 204) break
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`envd did not become healthy in 30 s:\n${output}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  process.env.E2B_DEBUG = 'true'
  process.env.E2B_SANDBOX_URL = url
  return {
    url,
    port,
    pid: child.pid,
    logs: () => output,
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(t)
    },
  }
}

/**
 * Makes sure the E2B template user `user` (home /home/user) exists, creating it with useradd: uid 1000 as in E2B
 * templates when that uid is free, else the next free one. Needs root; CI runs the suites as root.
 * Returns { uid, gid }.
 */
export function ensureTemplateUser() {
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', 'user']).toString().trim()),
    gid: Number(execFileSync('id', ['-g', 'user']).toString().trim()),
  })
  try {
    return ids()
  } catch {
    let uidFree = true
    try { execFileSync('getent', ['passwd', '1000'], { stdio: 'ignore' }); uidFree = false } catch { /* free */ }
    execFileSync('useradd', ['-m', '-s', '/bin/bash', ...(uidFree ? ['-u', '1000'] : []), 'user'], { stdio: 'inherit' })
    return ids()
  }
}

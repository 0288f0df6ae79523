// Builds the `code-interpreter` template on a running sandboxd with the E2B SDK's own Template() builder (the one
// in sdk-tests/node_modules): Debian's Jupyter packages on the base image, our server.py, started at every create
// and ready once it answers on port 49999, where @e2b/code-interpreter looks for it.
//
//   node templates/code-interpreter/build.mjs [--name code-interpreter] [--env-file /var/lib/sandboxd/sandboxd.env]
//
// Without --name it is built twice, as `code-interpreter` and as `code-interpreter-v1` (the name the SDK's
// `Sandbox.create()` asks for when given none); the second build is all layer-cache hits.
//
// E2B_API_URL / E2B_API_KEY / E2B_DOMAIN come from the environment, else from the daemon's sandboxd.env.
// EXTRA_APT_PACKAGES (space separated, e.g. "python3-numpy python3-pandas python3-matplotlib") adds Debian packages.
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const here = import.meta.dirname
export const TEMPLATE_NAME = 'code-interpreter'
/** `Sandbox.defaultTemplate` of @e2b/code-interpreter 2.x. */
export const SDK_DEFAULT_NAME = 'code-interpreter-v1'
export const PORT = 49999
/** Debian packages (bookworm): the kernel, the client library; the base image already has python3 and curl. */
export const APT_PACKAGES = ['python3-ipykernel', 'python3-jupyter-client']

/** The recipe, given the SDK's Template and waitForURL (so a caller chooses which SDK copy builds it). */
export function recipe({ Template, waitForURL }, { extraPackages = [] } = {}) {
  return Template({ fileContextPath: here })
    .fromBaseImage()
    .aptInstall([...APT_PACKAGES, ...extraPackages], { noInstallRecommends: true })
    .copy(['server.py', 'test_server.py'], '/opt/code-interpreter/', { user: 'root', mode: 0o755 })
    // Compiled once here rather than by every sandbox's first start (its /opt is the template's, read-mostly).
    .runCmd('python3 -m compileall -q /opt/code-interpreter', { user: 'root' })
    .setUser('user')
    .setWorkdir('/home/user')
    .setStartCmd(`python3 /opt/code-interpreter/server.py --port ${PORT} >/tmp/code-interpreter.log 2>&1`,
      waitForURL(`http://127.0.0.1:${PORT}/health`))
}

/** Builds it and resolves with the build's duration in ms; `sdk` is the imported `e2b` module. */
export async function build(sdk, { name = TEMPLATE_NAME, onBuildLogs, extraPackages, cpuCount = 2, memoryMB = 1024 } = {}) {
  const t0 = performance.now()
  await sdk.Template.build(recipe(sdk, { extraPackages }), name, { cpuCount, memoryMB, onBuildLogs })
  return performance.now() - t0
}

function loadEnvFile(file) {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf('=')
    if (i > 0 && !line.startsWith('#') && process.env[line.slice(0, i)] === undefined) {
      process.env[line.slice(0, i)] = line.slice(i + 1)
    }
  }
}

async function main(argv) {
  const arg = (flag, fallback) => { const i = argv.indexOf(flag); return i >= 0 ? argv[i + 1] : fallback }
  if (argv.includes('--help')) {
    console.log('usage: node templates/code-interpreter/build.mjs [--name NAME] [--env-file FILE]')
    return
  }
  const envFile = arg('--env-file', process.env.SANDBOXD_ENV_FILE ?? '/var/lib/sandboxd/sandboxd.env')
  if (!process.env.E2B_API_KEY) {
    if (!existsSync(envFile)) throw new Error(`E2B_API_KEY is not set and ${envFile} does not exist (is the daemon running?)`)
    loadEnvFile(envFile)
  }
  const require = createRequire(path.join(here, '../../sdk-tests/package.json'))
  let entry
  try {
    entry = require.resolve('e2b-2.51')
  } catch {
    throw new Error('the E2B SDK is not installed: run `npm ci` in sdk-tests/ first')
  }
  const sdk = await import(pathToFileURL(entry).href)
  const names = argv.includes('--name') ? [arg('--name')] : [TEMPLATE_NAME, SDK_DEFAULT_NAME]
  const extraPackages = (process.env.EXTRA_APT_PACKAGES ?? '').split(/\s+/).filter(Boolean)
  for (const name of names) {
    const ms = await build(sdk, { name, extraPackages, onBuildLogs: (l) => console.log(`${l.level} ${l.message}`) })
    console.log(`template '${name}' built in ${(ms / 1000).toFixed(1)} s against ${process.env.E2B_API_URL}`)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((e) => { console.error(e?.message ?? e); process.exit(1) })
}

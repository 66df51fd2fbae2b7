'use strict'
// Starts a PLC directory (in memory) and an AT Protocol PDS in this one Node process, for the
// end-to-end tests. Both listen on 127.0.0.1 only, on ports chosen here.
//
//   node launch.js DATA_DIR
//
// When both servers are ready, one JSON line goes to stdout:
//   {"pdsUrl":"http://localhost:PORT","plcUrl":"http://localhost:PORT","adminPassword":"..."}
// Nothing else is written to stdout (diagnostics go to stderr).
//
// The process stops both servers on SIGTERM, on SIGINT and when its stdin closes, so a test
// process that dies without cleaning up still takes its PDS with it. Run by hand, press Ctrl-D
// (or Ctrl-C) to stop; do not start it with stdin closed or redirected from /dev/null.
//
// Optional environment:
//   E2E_PDS_ACCESS_TOKEN_SECONDS  lifetime of access tokens (accessJwt) in seconds; the PDS
//                                 default is 2 hours and it has no setting of its own for it.
//   E2E_PDS_REMOVE_DATA_DIR=1     delete DATA_DIR after shutting down (the Rust harness sets it,
//                                 so a crashed test leaves no data behind either).
//
// Exit codes: 0 after a clean shutdown, 1 on a startup or shutdown failure, 75 when the port
// chosen for the PDS was taken by someone else before the PDS could bind it (start again).

const crypto = require('node:crypto')
const dns = require('node:dns')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const { once } = require('node:events')

const HOST = '127.0.0.1'
const EXIT_PORT_TAKEN = 75
const SHUTDOWN_DEADLINE_MS = 10_000

// The PDS reaches the PLC directory through the name "localhost"; resolve it to the address
// the servers listen on even where ::1 is listed first.
dns.setDefaultResultOrder('ipv4first')

function fail(message) {
  process.stderr.write(`launch.js: ${message}\n`)
  process.exit(1)
}

const dataDir = process.argv[2]
if (!dataDir) fail('usage: node launch.js DATA_DIR')
const removeDataDir = process.env.E2E_PDS_REMOVE_DATA_DIR === '1'

let accessTokenSeconds = null
if (process.env.E2E_PDS_ACCESS_TOKEN_SECONDS !== undefined) {
  const text = process.env.E2E_PDS_ACCESS_TOKEN_SECONDS
  if (!/^[1-9][0-9]*$/.test(text)) {
    fail(`E2E_PDS_ACCESS_TOKEN_SECONDS must be a positive whole number of seconds, got "${text}"`)
  }
  accessTokenSeconds = Number(text)
}

// Logs, when someone turns them on with LOG_ENABLED, must not mix with the ready line.
if (process.env.LOG_ENABLED && !process.env.LOG_DESTINATION) {
  process.env.LOG_DESTINATION = '/dev/stderr'
}

const { PDS, envToCfg, envToSecrets, readEnv } = require('@atproto/pds')
const { PlcServer, Database: PlcDatabase } = require('@did-plc/server')

if (accessTokenSeconds !== null) shortenAccessTokens(accessTokenSeconds)

// Every access token comes from createAccessToken in the account manager's auth helpers,
// called with no expiry, so the helper's default ('120mins') applies. The helpers look each
// other up through the module's exports at call time: replacing the export supplies our
// lifetime wherever the caller did not choose one. Refresh tokens are left alone.
function shortenAccessTokens(seconds) {
  const helpers = require('@atproto/pds/dist/account-manager/helpers/auth')
  const original = helpers.createAccessToken
  if (typeof original !== 'function') {
    fail('E2E_PDS_ACCESS_TOKEN_SECONDS is not supported by this @atproto/pds version')
  }
  helpers.createAccessToken = (opts) =>
    original({ ...opts, expiresIn: opts.expiresIn ?? `${seconds}s` })
}

// Express apps listen on every interface when given only a port; make this one listen on
// loopback. The wrapped `listen` may itself be a wrapper (the XRPC server adds WebSocket
// upgrades to it), so call through it rather than around it.
function listenOnLoopback(app) {
  const listen = app.listen
  app.listen = (port, ...rest) => listen.call(app, port, HOST, ...rest)
}

async function pickFreePort() {
  const probe = net.createServer()
  probe.listen(0, HOST)
  await once(probe, 'listening')
  const { port } = probe.address()
  await new Promise((resolve) => probe.close(resolve))
  return port
}

const randomHex = () => crypto.randomBytes(32).toString('hex')

let plc = null
let pds = null

async function start() {
  const pdsDir = path.join(dataDir, 'pds')
  const blobDir = path.join(pdsDir, 'blobs')
  fs.mkdirSync(blobDir, { recursive: true })

  plc = PlcServer.create({ db: PlcDatabase.mock(), port: 0 })
  listenOnLoopback(plc.app)
  const plcServer = await plc.start()
  const plcUrl = `http://localhost:${plcServer.address().port}`

  // The PDS writes its own port into DID documents, so it needs it before it starts.
  const pdsPort = await pickFreePort()
  const adminPassword = randomHex()

  // Only our settings: a PDS_* variable inherited from the caller's shell must not change
  // (or connect out of) the test server.
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('PDS_')) delete process.env[name]
  }
  Object.assign(process.env, {
    PDS_HOSTNAME: 'localhost',
    PDS_PORT: String(pdsPort),
    PDS_DEV_MODE: 'true',
    PDS_DATA_DIRECTORY: pdsDir,
    PDS_BLOBSTORE_DISK_LOCATION: blobDir,
    PDS_DID_PLC_URL: plcUrl,
    PDS_JWT_SECRET: randomHex(),
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: randomHex(),
    PDS_ADMIN_PASSWORD: adminPassword,
    PDS_INVITE_REQUIRED: 'false',
    PDS_ENABLE_DID_DOC_WITH_SESSION: 'true',
    PDS_CRAWLERS: '',
  })
  const env = readEnv()
  const cfg = envToCfg(env)
  cfg.crawlers = []
  pds = await PDS.create(cfg, envToSecrets(env))
  listenOnLoopback(pds.app)
  try {
    await pds.start()
  } catch (err) {
    if (err && err.code === 'EADDRINUSE') {
      err.exitCode = EXIT_PORT_TAKEN
      err.message = `port ${pdsPort} was taken before the PDS could bind it`
    }
    throw err
  }

  const ready = { pdsUrl: cfg.service.publicUrl, plcUrl, adminPassword }
  process.stdout.write(`${JSON.stringify(ready)}\n`)
}

let stopping = null
function stop(why, exitCode = 0) {
  if (stopping) return stopping
  stopping = (async () => {
    setTimeout(() => {
      process.stderr.write('launch.js: shutdown took too long, exiting anyway\n')
      process.exit(1)
    }, SHUTDOWN_DEADLINE_MS).unref()
    let code = exitCode
    // Let a startup in progress finish, so that what it started gets stopped too.
    await started.catch(() => {})
    for (const server of [pds, plc]) {
      try {
        if (server) await server.destroy()
      } catch (err) {
        process.stderr.write(`launch.js: error while stopping (${why}): ${err && err.stack}\n`)
        if (code === 0) code = 1
      }
    }
    if (removeDataDir) fs.rmSync(dataDir, { recursive: true, force: true })
    process.exit(code)
  })()
  return stopping
}

const started = start()
started.catch((err) => {
  const code = (err && err.exitCode) || 1
  const detail = code === EXIT_PORT_TAKEN ? err.message : err && err.stack
  process.stderr.write(`launch.js: startup failed: ${detail}\n`)
  stop('startup failed', code).catch(() => process.exit(code))
})

process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))
process.stdin.on('end', () => stop('stdin closed'))
process.stdin.on('close', () => stop('stdin closed'))
process.stdin.on('error', () => stop('stdin error'))
process.stdin.resume()
// A reader that went away must not crash the servers with EPIPE; stdin closing stops us.
process.stdout.on('error', () => {})

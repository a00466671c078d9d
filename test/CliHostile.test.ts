/**
 * `tokenlayer` against hostile input (issue 10): a server that answers with control characters, a token
 * file written by someone else, a config file others can write or that is not a file at all, values a
 * megabyte long, and secrets typed where they do not belong. The built command runs as a child process
 * against servers on 127.0.0.1 written here with node:http (they answer what no real server should).
 *
 * What holds: nothing on stdout or stderr holds a raw control character (C0, DEL, C1) or bidirectional
 * control: server text is shown escaped (`\x1b`, `\u009b`, `\u202e`), a token or header that cannot be
 * printed as it is is refused (exit 3); the config file is refused unless it is a regular file of at most
 * 1 MiB, owned by the user (or root) and writable by nobody else; long values are refused at once by name
 * (exit 2); no value of an unknown option or setting, nor a `--secret-env` that is not a name, is echoed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import * as Sanitize from "../src/cli/Sanitize.js"
import * as Cli from "./support/cli.js"

/** What must never reach a terminal raw: C0 but the line feed, DEL, C1, the bidirectional controls. */
const rawControl = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/

/** No raw control character in `text` (shown escaped when there is one, so the failure can be read). */
const assertClean = (text: string, what: string) =>
  assert.isFalse(rawControl.test(text), `${what} holds a raw control character: ${JSON.stringify(text)}`)

/** Exit code, nothing on stdout, one clean `tokenlayer:` line on stderr matching `message`. */
const assertRefused = (result: Cli.Result, code: number, message: RegExp) => {
  assert.strictEqual(result.code, code, JSON.stringify(result.stderr))
  assert.strictEqual(result.stdout, "")
  assertClean(result.stderr, "stderr")
  assert.match(result.stderr, /^tokenlayer: [^\n]+\n$/, `one line on stderr: ${JSON.stringify(result.stderr)}`)
  assert.match(result.stderr, message)
}

/** A server's text with every kind of trouble: OSC (retitle), CSI (clear), CR/LF, NUL, C1 CSI, RLO. */
const nasty = "bad\r\nFAKE: line\u0000\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202egnp.exe"

/** The same, as the command must show it. */
const nastyEscaped = "bad\\x0d\\x0aFAKE: line\\x00\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202egnp.exe"

interface Reply {
  readonly status?: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body: unknown
}

/** A server on 127.0.0.1 that answers each request with `reply(path)` (JSON unless a string). */
const hostileServer = (reply: (path: string) => Reply) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly server: http.Server }>((resume) => {
      const server = http.createServer((request, response) => {
        request.resume()
        request.on("end", () => {
          const answer = reply(request.url ?? "/")
          response.writeHead(answer.status ?? 200, { "content-type": "application/json", ...answer.headers })
          response.end(typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body))
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      }).pipe(Effect.timeout("10 seconds"), Effect.ignore)
  )

const secret = "s3cr3t-value-0123456789"

/** A profile `app` of client credentials at `url`/token, its secret in APP_SECRET. */
const appConfig = (url: string, extra: Record<string, unknown> = {}) => ({
  default: "app",
  profiles: { app: { tokenUrl: `${url}/token`, clientId: "app", secretEnv: "APP_SECRET", ...extra } }
})

const isRoot = typeof process.getuid === "function" && process.getuid() === 0

/** Another user's uid, for files the test chowns away from itself. */
const otherUid = 12345

describe("the terminal-safe text of the command (Sanitize)", () => {
  it("escapes C0, DEL, C1, bidirectional controls, separators and lone surrogates; nothing else", () => {
    assert.strictEqual(Sanitize.escape(nasty), nastyEscaped)
    assert.strictEqual(
      Sanitize.escape("a\tb\x7fc\u0085d\u2066e\u2069f\u2028g\ud800h"),
      "a\\x09b\\x7fc\\x85d\\u2066e\\u2069f\\u2028g\\ud800h"
    )
    assert.strictEqual(Sanitize.escape("héllo wörld ✓ 😀 C:\\path"), "héllo wörld ✓ 😀 C:\\path")
    assert.strictEqual(Sanitize.escape(Sanitize.escape(nasty)), Sanitize.escape(nasty), "idempotent")
    assert.isTrue(Sanitize.hasUnsafe("x\u009by"))
    assert.isFalse(Sanitize.hasUnsafe("plain text"))
  })

  it("one line of at most max characters, never cut inside an escape or a surrogate pair", () => {
    assert.strictEqual(Sanitize.oneLine("  a   b\n c  "), "a b\\x0a c")
    for (let max = 2; max < 20; max++) {
      const line = Sanitize.oneLine("ab\u001b\u001b😀😀\u202e\u202e".repeat(3), max)
      assert.isAtMost(line.length, max, line)
      assert.match(line, /…$/)
      assert.notMatch(line, /\\(x[0-9a-f]?|u[0-9a-f]{0,3})…$/, line)
      assert.notMatch(line, /[\ud800-\udbff]…$/, line)
    }
    // only the head of a huge text is looked at
    assert.strictEqual(Sanitize.oneLine("a".repeat(10_000_000), 10), `${"a".repeat(9)}…`)
  })

  it("JSON for a terminal: the same value, DEL, C1 and bidi controls as \\u escapes", () => {
    const value = { scope: nasty, list: ["\u202e", "\u0085"] }
    const text = Sanitize.json(value)
    assertClean(text.replace(/\n/g, ""), "json")
    assert.deepStrictEqual(JSON.parse(text), value)
  })

  it("what may go on stdout as it is, names, nesting", () => {
    for (const good of ["Bearer", "DPoP", "MAC", "N_A"]) assert.isTrue(Sanitize.isHttpToken(good), good)
    for (const bad of ["Bearer\r\nX-Injected: yes", "Bearer x", "", "Bear\u001ber", "Bearer\u0000", "ß"]) {
      assert.isFalse(Sanitize.isHttpToken(bad), JSON.stringify(bad))
    }
    assert.isTrue(Sanitize.isVisibleAscii("abc.DEF-123_~+/="))
    assert.isFalse(Sanitize.isVisibleAscii("abc def"))
    for (const good of ["APP_SECRET", "_x", "a1"]) assert.isTrue(Sanitize.isEnvName(good), good)
    for (const bad of ["1A", "A-B", "A B", "s3cr3t!", "", "A\nB", "X".repeat(257)]) {
      assert.isFalse(Sanitize.isEnvName(bad), bad)
    }
    assert.isTrue(Sanitize.nestsAtMost(`{"a":[{"b":"[[[[[[[[\\"["}]}`, 3))
    assert.isFalse(Sanitize.nestsAtMost("[".repeat(100_000), 32))
  })

  it("the parser's messages without the value of any --option=value", () => {
    const argv = ["node", "tokenlayer", "token", `--client-secret=${secret}`]
    const said = Sanitize.parserMessage(
      `\u001b[1mReceived unknown argument: '--client-secret=${secret}'\u001b[0m\n`,
      argv
    )
    assert.strictEqual(said, "Received unknown argument: '--client-secret=…' (its value is not shown)")
    assert.notInclude(
      Sanitize.parserMessage(`Received unknown argument: '${secret}'`, ["--secret-stdin=" + secret]),
      secret
    )
  })
})

describe("stdout: only what can be used as it is", () => {
  it.live(
    "header: a token_type with CR/LF (or anything not an HTTP token) from the server is refused, not printed",
    () =>
      Effect.gen(function*() {
        let tokenType = ""
        const server = yield* hostileServer(() => ({
          body: { access_token: "tok-1", token_type: tokenType, expires_in: 3600 }
        }))
        const box = yield* Cli.sandbox
        yield* box.writeConfig(appConfig(server.url))
        for (const type of ["Bearer\r\nX-Injected: yes", "Bearer\nX-Injected: yes", "Bear\u001b[2Jer", "Bearer x"]) {
          tokenType = type
          fs.rmSync(box.stateDir, { recursive: true, force: true })
          const header = yield* Cli.run(["header", "--retries", "0"], { env: box.env({ APP_SECRET: secret }) })
          // refused here, or (once the library refuses such a type at receipt) as a bad answer: both exit 3
          assertRefused(header, 3, /profile app: /)
          assert.notInclude(header.stderr, "tok-1")
        }
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "a token file written by someone else: header refuses its token_type, status shows its scope escaped",
    () =>
      Effect.gen(function*() {
        const server = yield* hostileServer(() => ({
          body: { access_token: "tok-1", token_type: "Bearer", expires_in: 3600, scope: "read" }
        }))
        const box = yield* Cli.sandbox
        yield* box.writeConfig(appConfig(server.url))
        const env = box.env({ APP_SECRET: secret })
        const first = yield* Cli.run(["token"], { env })
        assert.strictEqual(first.code, 0, first.stderr)
        assert.strictEqual(first.stdout, "tok-1\n")
        const tokenFile = path.join(box.stateDir, (yield* box.stateFiles).find((name) => name.endsWith(".json"))!)
        const stored = JSON.parse(fs.readFileSync(tokenFile, "utf8"))

        // the type: whatever the store makes of it, stdout never holds a header of the planter's choosing
        fs.writeFileSync(tokenFile, JSON.stringify({ ...stored, token_type: "Bearer\r\nX-Injected: yes" }))
        const header = yield* Cli.run(["header"], { env })
        assertClean(header.stdout.replace(/\n$/, ""), "stdout of header")
        if (header.code === 0) {
          // the store refused the file, and a new token was fetched
          assert.match(header.stdout, /^Authorization: Bearer tok-1\n$/)
        } else {
          assertRefused(header, 3, /token type "Bearer\\x0d\\x0aX-Injected: yes" is not an HTTP authentication scheme/)
        }

        // the scope: status shows it escaped, and its JSON is the same value
        fs.writeFileSync(tokenFile, JSON.stringify({ ...stored, scope: `read ${nasty}` }))
        const status = yield* Cli.run(["status"], { env })
        assertClean(status.stdout, "stdout of status")
        assertClean(status.stderr, "stderr of status")
        const json = yield* Cli.run(["status", "--json"], { env })
        assertClean(json.stdout, "stdout of status --json")
        const report = JSON.parse(json.stdout)
        // unless (a later library) the store refuses such a file: then nothing is cached (exit 6)
        if (report.state !== "none") {
          assert.strictEqual(status.code, 0, status.stderr)
          assert.strictEqual(report.scope, `read ${nasty}`)
          assert.include(status.stdout, `read ${nastyEscaped}`)
        }
      }).pipe(Effect.scoped),
    120_000
  )
})

describe("server text on stderr is escaped", () => {
  it.live("the token endpoint's error, error_description, status line and headers", () =>
    Effect.gen(function*() {
      let status = 400
      let error = "invalid_client\u001b]0;pwned\u0007"
      const server = yield* hostileServer(() => ({
        status,
        headers: { "www-authenticate": "Basic realm=\"\x9b31m\"", "retry-after": "\x9b2J" },
        body: { error, error_description: nasty, error_uri: "https://x.example/\u001b[5m" }
      }))
      const box = yield* Cli.sandbox
      yield* box.writeConfig(appConfig(server.url))
      const env = box.env({ APP_SECRET: secret, TOKENLAYER_RETRIES: "0" })

      const refused = yield* Cli.run(["token"], { env })
      assertRefused(refused, 4, /the server refused at \S+: 400: invalid_client\\x1b\]0;pwned\\x07 \(/)
      assert.include(refused.stderr, nastyEscaped)

      const verbose = yield* Cli.run(["header", "--verbose"], { env })
      assert.strictEqual(verbose.code, 4)
      assertClean(verbose.stderr, "stderr of --verbose")
      for (const line of verbose.stderr.trimEnd().split("\n")) assert.match(line, /^tokenlayer: /)

      // unavailable (5: the code is shown, its description is not) and not a token endpoint (3: escaped)
      status = 503
      error = "temporarily_unavailable"
      assertRefused(yield* Cli.run(["token"], { env }), 5, /answered 503 temporarily_unavailable; /)
      status = 404
      error = "not_found\u001b[2J"
      assertRefused(yield* Cli.run(["token"], { env }), 3, /answered 404 \(not_found\\x1b\[2J: bad\\x0d\\x0aFAKE/)
    }).pipe(Effect.scoped), 120_000)

  it.live("login: the scope of the new token", () =>
    Effect.gen(function*() {
      const server = yield* hostileServer(() => ({
        body: { access_token: "tok-1", token_type: "Bearer", expires_in: 3600, scope: `read ${nasty}` }
      }))
      const box = yield* Cli.sandbox
      yield* box.writeConfig(appConfig(server.url))
      const login = yield* Cli.run(["login"], { env: box.env({ APP_SECRET: secret }) })
      assert.strictEqual(login.code, 0, login.stderr)
      assertClean(login.stderr, "stderr of login")
      assert.include(login.stderr, `scope read ${nastyEscaped}`)
    }).pipe(Effect.scoped), 120_000)

  it.live(
    "the device flow: verification URI, user code, complete URI and the server's refusal",
    () =>
      Effect.gen(function*() {
        const server = yield* hostileServer((path) =>
          path.startsWith("/device")
            ? {
              body: {
                device_code: "dc-1",
                user_code: "AB\u001b[2JCD\u009b",
                verification_uri: "https://x.example/\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007\u202e",
                verification_uri_complete: "https://x.example/?c=1\r\nFAKE: line",
                expires_in: 600,
                interval: 1
              }
            }
            : { status: 400, body: { error: "access_denied", error_description: nasty } }
        )
        const box = yield* Cli.sandbox
        yield* box.writeConfig({
          profiles: {
            device: {
              grant: "device_code",
              tokenUrl: `${server.url}/token`,
              deviceAuthorizationUrl: `${server.url}/device`,
              clientId: "public-cli"
            }
          }
        })
        const login = yield* Cli.run(["login"], { env: box.env() })
        assert.strictEqual(login.code, 4, login.stderr)
        assertClean(login.stderr, "stderr of login")
        for (const line of login.stderr.trimEnd().split("\n")) assert.match(line, /^tokenlayer: /)
        assert.include(login.stderr, "enter the code AB\\x1b[2JCD\\x9b")
        assert.include(login.stderr, "https://x.example/\\x1b]8;;https://evil.example\\x07click\\x1b]8;;\\x07\\u202e")
        assert.include(login.stderr, "or open https://x.example/?c=1\\x0d\\x0aFAKE: line")
        assert.include(login.stderr, nastyEscaped)
      }).pipe(Effect.scoped),
    120_000
  )
})

describe("the config file: a regular file of the user's that nobody else can write", () => {
  it.live("writable by group or others: refused, with the chmod that fixes it", () =>
    Effect.gen(function*() {
      const box = yield* Cli.sandbox
      yield* box.writeConfig(appConfig("http://127.0.0.1:9"))
      for (const mode of [0o666, 0o620, 0o602, 0o660, 0o606, 0o622]) {
        fs.chmodSync(box.configFile, mode)
        const octal = mode.toString(8).padStart(4, "0")
        assertRefused(
          yield* Cli.run(["token"], { env: box.env({ APP_SECRET: secret }) }),
          3,
          new RegExp(
            `permissions ${octal} for the config file '.+config\\.json' are too open: whoever can write it can ` +
              `change the token URL and receive the client secret; run chmod go-w '.+config\\.json'`
          )
        )
      }
      // read by others is fine: it holds no secret
      for (const mode of [0o644, 0o640, 0o600, 0o400]) {
        fs.chmodSync(box.configFile, mode)
        const list = yield* Cli.run(["profile", "list"], { env: box.env() })
        assert.strictEqual(list.code, 0, `${mode.toString(8)}: ${list.stderr}`)
        assert.match(list.stdout, /^\* app/)
      }
    }).pipe(Effect.scoped), 120_000)

  it.live.skipIf(!isRoot)(
    "owned by another user, or a link to such a file: refused (needs root to chown; skipped otherwise)",
    () =>
      Effect.gen(function*() {
        const box = yield* Cli.sandbox
        yield* box.writeConfig(appConfig("http://127.0.0.1:9"))
        fs.chownSync(box.configFile, otherUid, otherUid)
        assertRefused(
          yield* Cli.run(["token"], { env: box.env({ APP_SECRET: secret }) }),
          3,
          new RegExp(`the config file '.+config\\.json' is owned by uid ${otherUid}, not by you \\(uid 0\\): `)
        )
        // a link (of ours) to a file owned by someone else
        const theirs = yield* box.writeFile(
          "theirs/config.json",
          JSON.stringify(appConfig("http://127.0.0.1:9")),
          0o600
        )
        fs.chownSync(theirs, otherUid, otherUid)
        fs.rmSync(box.configFile)
        fs.symlinkSync(theirs, box.configFile)
        assertRefused(
          yield* Cli.run(["profile", "list"], { env: box.env() }),
          3,
          /the config file '.+config\.json' \(a link to '.+theirs\/config\.json'\) is owned by uid 12345/
        )
        // a link to a file of ours is fine
        fs.chownSync(theirs, 0, 0)
        const list = yield* Cli.run(["profile", "list"], { env: box.env() })
        assert.strictEqual(list.code, 0, list.stderr)
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "a FIFO, a link to /dev/zero, a directory: refused before they are opened; too large, too deep, not UTF-8",
    () =>
      Effect.gen(function*() {
        const box = yield* Cli.sandbox
        yield* box.writeConfig(appConfig("http://127.0.0.1:9"))
        // bounded: a command that blocks on the FIFO fails the test after 20 s instead of hanging it
        const run = (args: ReadonlyArray<string>) => Cli.run(args, { env: box.env(), timeout: "20 seconds" })
        fs.rmSync(box.configFile)
        childProcess.execFileSync("mkfifo", ["-m", "600", box.configFile])
        assertRefused(yield* run(["token"]), 3, /the config file '.+config\.json' is a FIFO/)
        assertRefused(yield* run(["profile", "list"]), 3, /is a FIFO/)
        fs.rmSync(box.configFile)
        fs.symlinkSync("/dev/zero", box.configFile)
        assertRefused(yield* run(["token"]), 3, /the config file '.+config\.json' is a character device/)
        const elsewhere = path.join(box.root, "a-directory")
        fs.mkdirSync(elsewhere, { mode: 0o700 })
        assertRefused(yield* run(["token", "--config", elsewhere]), 3, /the config file '.+a-directory' is a directory/)
        fs.rmSync(box.configFile)

        const write = (content: string | Buffer) => fs.writeFileSync(box.configFile, content, { mode: 0o600 })
        write(`{"profiles":{},"x":"${"a".repeat(2 * 1024 * 1024)}"}`)
        assertRefused(yield* run(["token"]), 3, /is larger than a config file can be \(1 MiB\)/)
        fs.rmSync(box.configFile)
        write(`${"[".repeat(100_000)}${"]".repeat(100_000)}`)
        assertRefused(yield* run(["token"]), 3, /the config file '.+' nests deeper than 32 levels/)
        fs.rmSync(box.configFile)
        write("[".repeat(100_000))
        assertRefused(yield* run(["token"]), 3, /nests deeper than 32 levels/)
        fs.rmSync(box.configFile)
        write(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))
        assertRefused(yield* run(["token"]), 3, /is not UTF-8 text/)
      }).pipe(Effect.scoped),
    120_000
  )
})

describe("secrets are read up to a bound", () => {
  it.live(
    "a secret on standard input or in a file larger than 1 MiB is refused (--secret-stdin < /dev/zero never ended)",
    () =>
      Effect.gen(function*() {
        const box = yield* Cli.sandbox
        const base = ["token", "--token-url", "http://127.0.0.1:9/token", "--client-id", "app"]
        const big = "x".repeat(2 * 1024 * 1024)
        const stdin = yield* Cli.run([...base, "--secret-stdin"], { env: box.env(), stdin: big })
        assertRefused(stdin, 3, /the secret on standard input is larger than a secret can be \(1 MiB\)/)
        const file = yield* box.writeFile("big-secret", big, 0o600)
        const fromFile = yield* Cli.run([...base, "--secret-file", file], { env: box.env() })
        assertRefused(fromFile, 3, /is larger than a secret can be \(1 MiB\)/)
      }).pipe(Effect.scoped),
    60_000
  )
})

describe("secrets typed where they do not belong are not echoed", () => {
  it.live(
    "an unknown --option=value is named by the part before =; a value given to a flag is not shown",
    () =>
      Effect.gen(function*() {
        const box = yield* Cli.sandbox
        for (const command of ["token", "header"]) {
          const result = yield* Cli.run([command, `--client-secret=${secret}`], { env: box.env() })
          assertRefused(
            result,
            2,
            new RegExp(
              `unknown option '--client-secret=…' \\(its value is not shown\\); see tokenlayer ${command} --help`
            )
          )
          assert.notInclude(result.stderr, secret)
        }
        const stdin = yield* Cli.run(["token", `--secret-stdin=${secret}`], { env: box.env() })
        assertRefused(stdin, 2, /the value given to --secret-stdin \(not shown\)/)
        assert.notInclude(stdin.stderr, secret)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "a config file with a secret in a field of its own, or in the wrong shape: the field named, not the value",
    () =>
      Effect.gen(function*() {
        const box = yield* Cli.sandbox
        const cases: ReadonlyArray<readonly [unknown, RegExp]> = [
          [appConfig("http://127.0.0.1:9", { clientSecret: secret }), /unknown setting profiles\.app\.clientSecret/],
          [{ clientSecret: secret, profiles: {} }, /unknown setting clientSecret/],
          [appConfig("http://127.0.0.1:9", { clientId: { secret } }), /profiles\.app\.clientId: expected string/],
          [
            appConfig("http://127.0.0.1:9", { grant: secret }),
            /profiles\.app\.grant: expected "client_credentials" or "device_code" or "jwt_bearer"/
          ],
          [appConfig("http://127.0.0.1:9", { retries: secret }), /profiles\.app\.retries: expected /]
        ]
        for (const [config, message] of cases) {
          yield* box.writeConfig(config)
          const result = yield* Cli.run(["token"], { env: box.env() })
          assertRefused(result, 3, message)
          assert.notInclude(result.stderr, secret)
        }
      }).pipe(Effect.scoped),
    60_000
  )
})

describe("long values are refused at once, by name", () => {
  // a single argument or variable of Linux is at most 128 KiB (MAX_ARG_STRLEN)
  const long = "a".repeat(100_000)
  const tooLong = (label: string) => new RegExp(`${label} is too long \\(100000 characters; at most 4096\\)`)

  it.live(
    "flags and TOKENLAYER_* variables: exit 2, naming the option; the value never echoed",
    () =>
      Effect.gen(function*() {
        const box = yield* Cli.sandbox
        // bounded: before the fix such a command took 40 s and more
        const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
          Cli.run(args, { env: box.env({ APP_SECRET: secret, ...env }), timeout: "20 seconds" })
        const base = ["--token-url", "http://127.0.0.1:9/token", "--client-id", "app", "--secret-env", "APP_SECRET"]
        const check = (result: Cli.Result, label: string) => {
          assertRefused(result, 2, tooLong(label))
          assert.isBelow(result.stderr.length, 200)
        }
        const withoutId = ["--token-url", "http://127.0.0.1:9/token", "--secret-env", "APP_SECRET"]
        const withoutUrl = ["--client-id", "app", "--secret-env", "APP_SECRET"]
        check(yield* run(["token", ...withoutId, "--client-id", long]), "--client-id")
        check(
          yield* run(["token", ...withoutUrl, "--token-url", `http://127.0.0.1:9/${long.slice(19)}`]),
          "--token-url"
        )
        check(yield* run(["header", ...base, "--scope", long]), "--scope")
        check(
          yield* run(["token", "--token-url", "http://127.0.0.1:9/token"], { TOKENLAYER_CLIENT_ID: long }),
          "TOKENLAYER_CLIENT_ID"
        )
        check(yield* run(["token", ...base], { TOKENLAYER_SCOPE: long }), "TOKENLAYER_SCOPE")
        check(yield* run(["token", "--client-id", "app"], { TOKENLAYER_TOKEN_URL: long }), "TOKENLAYER_TOKEN_URL")
        check(
          yield* run(["profile", "add", "p", "--token-url", "http://127.0.0.1:9/t", "--client-id", long]),
          "--client-id"
        )
      }).pipe(Effect.scoped),
    180_000
  )

  it.live("a long value in a profile: exit 3, naming the setting", () =>
    Effect.gen(function*() {
      const box = yield* Cli.sandbox
      yield* box.writeConfig(appConfig("http://127.0.0.1:9", { clientId: long }))
      const result = yield* Cli.run(["token"], { env: box.env({ APP_SECRET: secret }), timeout: "20 seconds" })
      assertRefused(result, 3, /the clientId of profile app in '.+' is too long \(100000 characters; at most 4096\)/)
    }).pipe(Effect.scoped), 60_000)
})

describe("profile names and --secret-env names", () => {
  const badName = "a\u001b[31mb\nc\u202e"

  it.live("a profile name that is not one: refused on one line, shown escaped", () =>
    Effect.gen(function*() {
      const box = yield* Cli.sandbox
      yield* box.writeConfig(appConfig("http://127.0.0.1:9"))
      const escaped = /"a\\x1b\[31mb\\x0ac\\u202e" \((--profile|TOKENLAYER_PROFILE)\) is not a profile name/
      assertRefused(yield* Cli.run(["token", "--profile", badName], { env: box.env() }), 2, escaped)
      assertRefused(yield* Cli.run(["status"], { env: box.env({ TOKENLAYER_PROFILE: badName }) }), 2, escaped)
      assertRefused(
        yield* Cli.run(["profile", "remove", badName], { env: box.env() }),
        2,
        /"a\\x1b\[31mb\\x0ac\\u202e" is not a profile name/
      )
      assertRefused(
        yield* Cli.run(["profile", "add", badName, "--token-url", "http://127.0.0.1:9/t"], { env: box.env() }),
        2,
        /"a\\x1b\[31mb\\x0ac\\u202e" is not a profile name/
      )
      // written by hand into the config file
      yield* box.writeConfig({ default: "app", profiles: { app: {}, [badName]: {} } })
      assertRefused(
        yield* Cli.run(["profile", "list"], { env: box.env() }),
        3,
        /names a profile "a\\x1b\[31mb\\x0ac\\u202e" that is not a profile name/
      )
    }).pipe(Effect.scoped), 60_000)

  it.live(
    "--secret-env given the secret itself: 'expects the name of an environment variable', never the value",
    () =>
      Effect.gen(function*() {
        const box = yield* Cli.sandbox
        yield* box.writeConfig(appConfig("http://127.0.0.1:9"))
        const values = [`${secret}!`, "sec ret", `${secret}\nnext`, `9${secret}`]
        for (const value of values) {
          const flag = yield* Cli.run(["token", "--secret-env", value], { env: box.env() })
          assertRefused(flag, 2, /--secret-env expects the name of an environment variable \(letters, digits and _/)
          assert.notInclude(flag.stderr, secret)
          assert.notInclude(flag.stderr, "sec ret")
          const variable = yield* Cli.run(["token"], { env: box.env({ TOKENLAYER_SECRET_ENV: value }) })
          assertRefused(variable, 2, /TOKENLAYER_SECRET_ENV expects the name of an environment variable/)
          assert.notInclude(variable.stderr, secret)
        }
        const add = yield* Cli.run(
          ["profile", "add", "p", "--token-url", "http://127.0.0.1:9/t", "--secret-env", secret + "!"],
          { env: box.env() }
        )
        assertRefused(add, 2, /--secret-env expects the name of an environment variable/)
        assert.notInclude(add.stderr, secret)
        yield* box.writeConfig(appConfig("http://127.0.0.1:9", { secretEnv: `${secret}!` }))
        const profile = yield* Cli.run(["token"], { env: box.env() })
        assertRefused(profile, 3, /the secretEnv of profile app in '.+' is not the name of an environment variable/)
        assert.notInclude(profile.stderr, secret)
      }).pipe(Effect.scoped),
    120_000
  )
})

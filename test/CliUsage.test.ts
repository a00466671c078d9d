/**
 * The help of `tokenlayer` and the one exit-code table (`Errors.ExitCode`), one case for each kind of
 * bad value: a bad command line, flag or `TOKENLAYER_*` variable is bad usage (2) and names the option
 * (or variable) and the value; the same mistake in the config file is configuration (3) and says where;
 * a server that asks to wait says how long (5); `--timeout` bounds the whole command (5).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { AuthServer } from "tokenlayer/testing"
import * as Cli from "./support/cli.js"

const secret = "the-usage-test-secret"

const Server = AuthServer.layer({ clients: [{ id: "app", secret }] })

/** Exit code, one `tokenlayer:` line on stderr matching `message`, empty stdout. */
const assertFailure = (result: Cli.Result, code: number, message: RegExp) => {
  assert.strictEqual(result.code, code, result.stderr)
  assert.strictEqual(result.stdout, "")
  assert.match(result.stderr, /^tokenlayer: [^\n]+\n$/, "one line on stderr")
  assert.match(result.stderr, message)
}

const boilerplate = /A user-defined piece of text|--wizard|--completions|--log-level/

describe("help", () => {
  it.live("--help: the commands one line each, in 30 lines of 100 columns; bare tokenlayer: usage, exit 2", () =>
    Effect.gen(function*() {
      const box = yield* Cli.sandbox
      const help = yield* Cli.run(["--help"], { env: box.env() })
      assert.strictEqual(help.code, 0)
      assert.strictEqual(help.stderr, "")
      const lines = help.stdout.trimEnd().split("\n")
      assert.isAtMost(lines.length, 30)
      for (const line of lines) assert.isAtMost(line.length, 100, line)
      for (const command of ["token", "header", "status", "login", "logout", "profile", "dev-server"]) {
        assert.strictEqual(lines.filter((line) => line.startsWith(`  ${command} `)).length, 1, command)
      }
      assert.notMatch(help.stdout, boilerplate)
      assert.match(help.stdout, /Exit codes: 0 success/)

      const bare = yield* Cli.run([], { env: box.env() })
      assert.strictEqual(bare.code, 2)
      assert.strictEqual(bare.stdout, "")
      assert.include(bare.stderr, "Usage: tokenlayer <command> [options]")
      const group = yield* Cli.run(["profile"], { env: box.env() })
      assert.strictEqual(group.code, 2)
      assert.match(group.stderr, /Usage: tokenlayer profile <add\|list\|remove>/)

      const version = yield* Cli.run(["--version"], { env: box.env() })
      assert.deepStrictEqual([version.code, version.stdout], [0, "tokenlayer 0.1.0\n"])
    }).pipe(Effect.scoped))

  it.live("a command's help: its usage, its own options with their variables, an example", () =>
    Effect.gen(function*() {
      const box = yield* Cli.sandbox
      const token = yield* Cli.run(["token", "--help"], { env: box.env() })
      assert.strictEqual(token.code, 0)
      assert.match(token.stdout, /^Usage: tokenlayer token \[options\]\n/)
      assert.match(token.stdout, /--token-url URL +the token endpoint \[TOKENLAYER_TOKEN_URL\]/)
      assert.match(token.stdout, /-p, --profile NAME/)
      assert.match(token.stdout, /\nExamples?:\n  TOKEN=\$\(tokenlayer token -p api\)/)
      assert.notMatch(token.stdout, boilerplate)
      for (const line of token.stdout.split("\n")) assert.isAtMost(line.length, 100, line)
      // options of other commands are not listed
      assert.notInclude(token.stdout, "--json")
      assert.notInclude(token.stdout, "--force")

      const add = yield* Cli.run(["profile", "add", "-h"], { env: box.env() })
      assert.strictEqual(add.code, 0)
      assert.match(add.stdout, /^Usage: tokenlayer profile add <name> \[options\]/)
      assert.include(add.stdout, "--force")
      const status = yield* Cli.run(["status", "--help"], { env: box.env() })
      assert.include(status.stdout, "--json")
    }).pipe(Effect.scoped))
})

describe("the exit-code table, one case per kind of bad value", () => {
  it.live("2: bad usage names the option (or variable) and the value", () =>
    Effect.gen(function*() {
      const box = yield* Cli.sandbox
      const env = box.env({ TOKENLAYER_TOKEN_URL: "http://127.0.0.1:9/token", TOKENLAYER_CLIENT_ID: "app" })
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, Record<string, string>, RegExp]> = [
        [["token", "--client-auth", "bogus"], {}, /--client-auth bogus is not one of client_secret_basic/],
        [["token", "--retries", "-1"], {}, /--retries -1 is not a whole number from 0 to 10/],
        [["token", "--retries", "many"], {}, /--retries many is not a whole number from 0 to 10/],
        [["token", "--buffer", "abc"], {}, /--buffer abc is not a duration: write 30s, 5m or 1h/],
        [["token"], { TOKENLAYER_BUFFER: "abc" }, /TOKENLAYER_BUFFER abc is not a duration/],
        [["token"], { TOKENLAYER_RETRIES: "11" }, /TOKENLAYER_RETRIES 11 is not a whole number from 0 to 10/],
        [["token"], { TOKENLAYER_CLIENT_AUTH: "bogus" }, /TOKENLAYER_CLIENT_AUTH bogus is not one of/],
        [
          ["token", "--token-url", "not a url"],
          {},
          /the token URL not a url is not an http\(s\) URL \(from --token-url\)/
        ],
        [["token", "--profile"], {}, /--profile needs a value: --profile NAME; see tokenlayer token --help/],
        [["token", "--profile", "--verbose"], {}, /--profile needs a value/],
        [["token", "--timeout", "soon"], {}, /--timeout soon is not a duration/],
        [["token", "--scope", "a", "--scope", "b"], {}, /--scope is given twice/],
        [["token", "extra"], {}, /unexpected argument 'extra'/],
        [["profile", "ad", "x"], {}, /unknown command 'tokenlayer profile ad' \(did you mean profile add\?\)/]
      ]
      for (const [args, extra, message] of cases) {
        assertFailure(yield* Cli.run(args, { env: { ...env, ...extra } }), 2, message)
      }
    }).pipe(Effect.scoped))

  it.live("3: the config file and its profiles, saying where", () =>
    Effect.gen(function*() {
      const box = yield* Cli.sandbox
      const missing = `${box.root}/no-such-config.json`
      assertFailure(
        yield* Cli.run(["token", "--config", missing], { env: box.env() }),
        3,
        /the config file '.+no-such-config\.json' does not exist/
      )
      assertFailure(
        yield* Cli.run(["profile", "list"], { env: box.env({ TOKENLAYER_CONFIG: missing }) }),
        3,
        /does not exist/
      )
      yield* box.writeConfig({ profiles: { app: { tokenURL: "http://127.0.0.1:9/token" } } })
      assertFailure(
        yield* Cli.run(["token"], { env: box.env() }),
        3,
        /unknown setting profiles\.app\.tokenURL \(did you mean tokenUrl\?\)/
      )
      yield* box.writeFile("config/tokenlayer/config.json", `{"profiles": {"app": {"tokenUrl": "http://x`, 0o600)
      assertFailure(
        yield* Cli.run(["token"], { env: box.env() }),
        3,
        /is not valid JSON, it ends early \(line 1, column \d+: is it cut short\?\)/
      )
      yield* box.writeFile("config/tokenlayer/config.json", `{\n  "profiles": {\n    "app": { tokenUrl: 1 }\n}}`, 0o600)
      assertFailure(yield* Cli.run(["token"], { env: box.env() }), 3, /is not valid JSON, at line 3, column \d+/)
      yield* box.writeConfig({
        profiles: { app: { tokenUrl: "http://127.0.0.1:9/token", clientId: "app", buffer: "soon" } }
      })
      assertFailure(
        yield* Cli.run(["token"], { env: box.env({ TOKENLAYER_CLIENT_SECRET: secret }) }),
        3,
        /the buffer of profile app in '.+' soon is not a duration/
      )
      // the flag's value is the flag's: not reported as the profile's
      assertFailure(
        yield* Cli.run(["token", "--token-url", "ftp://x"], { env: box.env({ TOKENLAYER_CLIENT_SECRET: secret }) }),
        2,
        /is not an http\(s\) URL \(from --token-url\)$/m
      )
    }).pipe(Effect.scoped))

  it.live("5: a 429 says how long to wait; --timeout bounds a server that never answers", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      const env = box.env({
        TOKENLAYER_TOKEN_URL: server.tokenUrl,
        TOKENLAYER_CLIENT_ID: "app",
        TOKENLAYER_CLIENT_SECRET: secret,
        TOKENLAYER_RETRIES: "0"
      })
      yield* server.injectAlways(AuthServer.Fault.tooManyRequests(30))
      const limited = yield* Cli.run(["token"], { env })
      assertFailure(limited, 5, /answered 429; it asks to wait 30s \(Retry-After\) before trying again/)
      assert.notInclude(limited.stderr, "check the URL")
      yield* server.injectAlways(AuthServer.Fault.hang)
      assertFailure(
        yield* Cli.run(["token", "--timeout", "1s"], { env }),
        5,
        /tokenlayer token did not finish within 1s \(--timeout\)/
      )
      assertFailure(
        yield* Cli.run(["header"], { env: { ...env, TOKENLAYER_TIMEOUT: "1s" } }),
        5,
        /did not finish within 1s/
      )
    }).pipe(Effect.scoped, Effect.provide(Server)))
})

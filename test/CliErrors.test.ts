/**
 * What a script can rely on when `tokenlayer` fails: each kind of failure has its exit code (2 usage,
 * 3 configuration, 4 refused by the server, 5 server unavailable, 6 login needed) and one line on stderr,
 * `tokenlayer: ...`, that says what to do; nothing on stdout; and no output of any command, with or
 * without `--verbose`, holds the secret or a token.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { AuthServer } from "tokenlayer/testing"
import * as Cli from "./support/cli.js"
import { closedPortUrl } from "./support/tokenEndpoint.js"

const secret = "the-real-secret-0123456789"
const wrongSecret = "a-wrong-secret-9876543210"

const Server = AuthServer.layer({
  clients: [
    { id: "app", secret, method: "client_secret_basic", scopes: ["read"] },
    { id: "public-cli", method: "none" }
  ]
})

const config = (server: AuthServer.Service) => ({
  default: "app",
  profiles: {
    app: { tokenUrl: server.tokenUrl, clientId: "app", secretEnv: "APP_SECRET" },
    device: { grant: "device_code", issuer: server.issuer, clientId: "public-cli" }
  }
})

/** Every value that must never be printed: the secrets, and every token the server issued. */
const forbidden = Effect.map(AuthServer.tokens, (tokens) => [
  secret,
  wrongSecret,
  ...tokens.map((t) => Redacted.value(t.accessToken))
])

/** Exit code, one `tokenlayer:` line on stderr matching `message`, empty stdout. */
const assertFailure = (result: Cli.Result, code: number, message: RegExp) => {
  assert.strictEqual(result.code, code, result.stderr)
  assert.strictEqual(result.stdout, "")
  assert.match(result.stderr, /^tokenlayer: [^\n]+\n$/, "one line on stderr")
  assert.match(result.stderr, message)
}

describe("exit codes and one-line messages", () => {
  it.live("usage errors: 2", () =>
    Effect.gen(function*() {
      const box = yield* Cli.sandbox
      assertFailure(
        yield* Cli.run(["token", "--bogus"], { env: box.env() }),
        2,
        /unknown option '--bogus'; see tokenlayer token --help/
      )
      assertFailure(
        yield* Cli.run(["tokn"], { env: box.env() }),
        2,
        /unknown command 'tokn' \(did you mean token\?\); see tokenlayer --help/
      )
      assertFailure(yield* Cli.run(["profile", "add"], { env: box.env() }), 2, /missing argument <name>/)
      assertFailure(
        yield* Cli.run(["token", "--grant", "password"], { env: box.env() }),
        2,
        /--grant password is not one of client_credentials, device_code, jwt_bearer, token_exchange; see tokenlayer token --help/
      )
      assertFailure(
        yield* Cli.run(["profile", "add", "../etc"], { env: box.env() }),
        2,
        /is not a profile name: use letters, digits/
      )
    }).pipe(Effect.scoped))

  it.live("configuration errors: 3, saying what to set", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      // nothing configured at all
      assertFailure(
        yield* Cli.run(["token"], { env: box.env() }),
        3,
        /no token URL or issuer: give --token-url or --issuer, set TOKENLAYER_TOKEN_URL, or add it to the profile/
      )
      yield* box.writeConfig(config(server))
      assertFailure(
        yield* Cli.run(["token", "-p", "iceye"], { env: box.env() }),
        3,
        /no profile iceye in '.+config\.json' \(there are: app, device\): add it with tokenlayer profile add iceye/
      )
      // the secret's variable is not set
      assertFailure(
        yield* Cli.run(["token"], { env: box.env() }),
        3,
        /the environment variable APP_SECRET \(named by profile app\) that holds the secret is not set/
      )
      // a secret file others can read is refused, as ssh refuses such a key
      const open = yield* box.writeFile("secret", secret, 0o644)
      assertFailure(
        yield* Cli.run(["token", "--secret-file", open], { env: box.env() }),
        3,
        /permissions 0644 for the secret file '.+' are too open: run chmod 600 '.+'/
      )
      // a token URL that is not a token endpoint
      assertFailure(
        yield* Cli.run(["token", "--token-url", `${server.url}/no-such-endpoint`, "--retries", "0"], {
          env: box.env({ APP_SECRET: secret })
        }),
        3,
        /profile app: the server at \S+\/no-such-endpoint answered 404 \(not_found: .+\); check the token URL or issuer/
      )
      yield* server.injectAlways(AuthServer.Fault.html)
      assertFailure(
        yield* Cli.run(["token", "--retries", "0"], { env: box.env({ APP_SECRET: secret }) }),
        3,
        /profile app: the server at \S+ answered with something unexpected \(token response is not JSON.*\); check the token URL/
      )
      yield* server.injectAlways(undefined)
      // a config file that is not valid, and a misspelt setting
      yield* box.writeConfig({ profiles: { app: { tokenURL: server.tokenUrl } } })
      assertFailure(
        yield* Cli.run(["token"], { env: box.env() }),
        3,
        /the config file '.+' is not valid: unknown setting profiles\.app\.tokenURL/
      )
      yield* box.writeFile("config/tokenlayer/config.json", "{ not json", 0o600)
      assertFailure(yield* Cli.run(["token"], { env: box.env() }), 3, /the config file '.+' is not valid JSON/)
      // a clock offset that is not a duration
      assertFailure(
        yield* Cli.run(["token"], { env: box.env({ TOKENLAYER_CLOCK_OFFSET: "soon" }) }),
        3,
        /TOKENLAYER_CLOCK_OFFSET is not a duration/
      )
    }).pipe(Effect.scoped, Effect.provide(Server)))

  it.live("a wrong secret: 4, with the server's invalid_client and its description; never the secret", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      yield* box.writeConfig(config(server))
      const results = [
        yield* Cli.run(["token"], { env: box.env({ APP_SECRET: wrongSecret }) }),
        yield* Cli.run(["header", "--verbose"], { env: box.env({ APP_SECRET: wrongSecret }) }),
        yield* Cli.run(["token", "--client-auth", "post"], { env: box.env({ APP_SECRET: wrongSecret }) })
      ]
      assertFailure(
        results[0]!,
        4,
        /^tokenlayer: profile app: the server refused at \S+\/token: 401: invalid_client \(.+\); check the client id, the client secret and the client authentication method/
      )
      // --verbose adds the trace (each line prefixed), and the last line is the same message
      const verbose = results[1]!
      assert.strictEqual(verbose.code, 4)
      assert.match(
        verbose.stderr,
        /tokenlayer: request: POST \S+\/token grant_type=client_credentials \(authorization: <redacted>\)/
      )
      assert.match(verbose.stderr, /tokenlayer: answer: 401 from POST/)
      assert.strictEqual(verbose.stderr.trimEnd().split("\n").at(-1), results[0]!.stderr.trimEnd())
      assert.match(results[2]!.stderr, /invalid_client/)
      assert.match(
        (yield* Cli.run(["token", "--verbose", "--client-auth", "post"], { env: box.env({ APP_SECRET: wrongSecret }) }))
          .stderr,
        /client_id=app&client_secret=<redacted>/
      )
      // a scope the client may not have
      assertFailure(
        yield* Cli.run(["token", "--scope", "admin"], { env: box.env({ APP_SECRET: secret }) }),
        4,
        /400: invalid_scope \(.+\); check the scope/
      )
      for (const value of yield* forbidden) {
        for (const result of results) assert.isFalse(`${result.stdout}${result.stderr}`.includes(value))
      }
    }).pipe(Effect.scoped, Effect.provide(Server)))

  it.live("the server unreachable or in trouble: 5", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      yield* box.writeConfig(config(server))
      const env = box.env({ APP_SECRET: secret, TOKENLAYER_RETRIES: "0" })
      const closed = yield* closedPortUrl
      assertFailure(
        yield* Cli.run(["token", "--token-url", closed], { env }),
        5,
        /profile app: the authorization server at \S+ could not be reached \(no answer: ECONNREFUSED\); check the URL and the network, and try again later/
      )
      yield* server.injectAlways(AuthServer.Fault.status(503))
      assertFailure(yield* Cli.run(["token"], { env }), 5, /the authorization server at \S+ answered 503; /)
      // retried: with 1 retry, two requests
      yield* server.resetStats
      assertFailure(yield* Cli.run(["token", "--retries", "1"], { env }), 5, /answered 503/)
      assert.strictEqual((yield* server.stats).tokenRequests, 2)
      yield* server.injectAlways(AuthServer.Fault.status(503, { error: "temporarily_unavailable" }))
      assertFailure(yield* Cli.run(["token"], { env }), 5, /answered 503 temporarily_unavailable/)
    }).pipe(Effect.scoped, Effect.provide(Server)))

  it.live("no token anywhere in what failing and succeeding commands print, except token and header", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      yield* box.writeConfig(config(server))
      const env = box.env({ APP_SECRET: secret })
      const token = yield* Cli.run(["token", "--verbose"], { env })
      assert.strictEqual(token.code, 0)
      const outputs = [
        token.stderr,
        (yield* Cli.run(["status", "--verbose"], { env })).stdout,
        (yield* Cli.run(["status", "--json"], { env })).stdout,
        (yield* Cli.run(["profile", "list", "--json"], { env })).stdout,
        (yield* Cli.run(["login", "--verbose"], { env })).stderr,
        (yield* Cli.run(["logout", "--verbose", "--revocation-url", server.revocationUrl], { env })).stderr
      ]
      assert.match(outputs.at(-1)!, /token deleted and revoked/)
      for (const value of yield* forbidden) {
        for (const output of outputs) assert.isFalse(output.includes(value), `${value} in ${output}`)
      }
    }).pipe(Effect.scoped, Effect.provide(Server)))
})

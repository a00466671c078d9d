/**
 * `tokenlayer login`, `status` and `logout`, the built command run as a child process against AuthServer:
 * the device flow approved through the server's test hook (the user code read from the child's stderr),
 * the token saved and then served by `token`, renewed with its refresh token without a prompt, shown
 * by `status` (never the token), deleted and revoked (RFC 7009) by `logout`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { AuthServer } from "tokenlayer/testing"
import * as Cli from "./support/cli.js"

const Server = AuthServer.layer({
  clients: [
    { id: "cli-device", method: "none", scopes: ["openid", "offline_access"] },
    { id: "cli-service", secret: "service-secret", method: "client_secret_basic" }
  ],
  deviceFlow: { interval: "1 second" }
})

const config = (server: AuthServer.Service) => ({
  default: "device",
  profiles: {
    device: { grant: "device_code", issuer: server.issuer, clientId: "cli-device", scope: "openid offline_access" },
    service: {
      issuer: server.issuer,
      clientId: "cli-service",
      secretEnv: "SERVICE_SECRET"
    },
    plain: { tokenUrl: server.tokenUrl, clientId: "cli-service", secretEnv: "SERVICE_SECRET" }
  }
})

/** Every access and refresh token the server issued, as text: none may appear in status output. */
const issuedSecrets = Effect.gen(function*() {
  const access = (yield* AuthServer.tokens).map((t) => Redacted.value(t.accessToken))
  const refresh = (yield* AuthServer.refreshTokens).map((t) => Redacted.value(t.refreshToken))
  return [...access, ...refresh]
})

describe("tokenlayer login, status, logout", () => {
  it.live(
    "the device flow: login approved, status, token, renewal without a prompt, logout revokes",
    () =>
      Effect.gen(function*() {
        const server = yield* AuthServer.AuthServer
        const box = yield* Cli.sandbox
        yield* box.writeConfig(config(server))

        // login: the verification URI and the user code on stderr; the test approves as the user would
        const login = yield* Cli.spawn(["login"], { env: box.env() })
        const prompt = yield* login.waitForStderr(/open (\S+) and enter the code (\S+)/)
        assert.strictEqual(prompt[1], server.verificationUrl)
        yield* login.waitForStderr(/waiting for approval; the code expires in \d+m/)
        assert.isTrue(yield* server.approve(prompt[2]!))
        const loggedIn = yield* login.result
        assert.strictEqual(loggedIn.code, 0, loggedIn.stderr)
        assert.strictEqual(loggedIn.stdout, "")
        assert.match(loggedIn.stderr, /profile device: logged in, token valid until \S+Z, scope openid offline_access/)
        for (const line of loggedIn.stderr.trimEnd().split("\n")) assert.match(line, /^tokenlayer: /)

        // status: profile, grant, scope, times, the bar; never a token
        const status = yield* Cli.run(["status"], { env: box.env() })
        assert.strictEqual(status.code, 0, status.stderr)
        assert.match(status.stdout, /^profile +device$/m)
        assert.match(status.stdout, /^grant +device_code$/m)
        assert.match(status.stdout, /^scope +openid offline_access$/m)
        assert.match(status.stdout, /^token +valid, with a refresh token$/m)
        assert.match(status.stdout, /^expires +\S+Z \(in (59m \d+s|1h)\)$/m)
        assert.match(status.stdout, /^remaining +\[█+░*\] \d+% +(59m \d+s|1h) of 1h$/m)
        const json = JSON.parse((yield* Cli.run(["status", "--json"], { env: box.env() })).stdout)
        assert.strictEqual(json.state, "valid")
        assert.strictEqual(json.grant, "device_code")
        assert.strictEqual(json.lifetimeSeconds, 3600)
        assert.isTrue(json.refreshToken)
        for (const value of yield* issuedSecrets) {
          assert.isFalse(
            status.stdout.includes(value) || status.stderr.includes(value) || loggedIn.stderr.includes(value)
          )
        }

        // token: the login's token, no request
        const [issued] = yield* server.tokens
        const token = yield* Cli.run(["token"], { env: box.env() })
        assert.strictEqual(token.stdout, `${Redacted.value(issued!.accessToken)}\n`)
        const requests = (yield* server.stats).tokenRequests

        // 58 minutes later the token is due: renewed with the refresh token, no device flow, no prompt
        const renewed = yield* Cli.run(["token"], { env: box.env({ TOKENLAYER_CLOCK_OFFSET: "58m" }) })
        assert.strictEqual(renewed.code, 0, renewed.stderr)
        assert.strictEqual(renewed.stderr, "")
        assert.notStrictEqual(renewed.stdout, token.stdout)
        const stats = yield* server.stats
        assert.strictEqual(stats.tokenRequests, requests + 1)
        assert.strictEqual(stats.deviceAuthorizationRequests, 1)
        assert.strictEqual((yield* server.tokens)[1]!.grantType, "refresh_token")

        // logout: the cached token deleted, the refresh token (the whole login) and the access token revoked
        const logout = yield* Cli.run(["logout"], { env: box.env() })
        assert.strictEqual(logout.code, 0, logout.stderr)
        assert.match(
          logout.stderr,
          /^tokenlayer: profile device: token deleted and revoked \(access and refresh token\)\n$/
        )
        assert.strictEqual((yield* server.stats).revocationRequests, 2)
        assert.isTrue((yield* server.tokens).every((t) => t.revoked))
        assert.isTrue((yield* server.refreshTokens).every((t) => t.revoked || t.spent))
        assert.deepStrictEqual((yield* box.stateFiles).filter((f) => f.endsWith(".json")), [])

        // after logout: token needs a login (exit 6), and starts no device flow of its own
        const afterwards = yield* Cli.run(["token"], { env: box.env() })
        assert.strictEqual(afterwards.code, 6)
        assert.strictEqual(afterwards.stdout, "")
        assert.strictEqual(
          afterwards.stderr,
          "tokenlayer: profile device: not logged in, or the login expired: run tokenlayer login --profile device\n"
        )
        assert.strictEqual((yield* server.stats).deviceAuthorizationRequests, 1)
        const statusAfter = yield* Cli.run(["status", "--json"], { env: box.env() })
        assert.strictEqual(statusAfter.code, 6)
        assert.strictEqual(JSON.parse(statusAfter.stdout).state, "none")
        assert.match(
          statusAfter.stderr,
          /^tokenlayer: profile device: no valid token cached: run tokenlayer login --profile device\n$/
        )
      }).pipe(Effect.scoped, Effect.provide(Server)),
    60_000
  )

  it.live("a denied login: exit 4 with the server's access_denied, nothing saved", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      yield* box.writeConfig(config(server))
      const login = yield* Cli.spawn(["login", "--profile", "device"], { env: box.env() })
      const prompt = yield* login.waitForStderr(/enter the code (\S+)/)
      assert.isTrue(yield* server.deny(prompt[1]!))
      const result = yield* login.result
      assert.strictEqual(result.code, 4)
      const last = result.stderr.trimEnd().split("\n").at(-1)!
      assert.match(last, /^tokenlayer: profile device: the server refused at \S+: 400: access_denied \(.+\); /)
      assert.deepStrictEqual((yield* box.stateFiles).filter((f) => f.endsWith(".json")), [])
    }).pipe(Effect.scoped, Effect.provide(Server)), 60_000)

  it.live(
    "login for client credentials gets a new token now; logout revokes it through the issuer's metadata",
    () =>
      Effect.gen(function*() {
        const server = yield* AuthServer.AuthServer
        const box = yield* Cli.sandbox
        yield* box.writeConfig(config(server))
        const env = box.env({ SERVICE_SECRET: "service-secret" })
        const first = yield* Cli.run(["token", "-p", "service"], { env })
        const login = yield* Cli.run(["login", "-p", "service"], { env })
        assert.strictEqual(login.code, 0, login.stderr)
        assert.match(login.stderr, /^tokenlayer: profile service: new token, valid until \S+Z\n$/)
        const second = yield* Cli.run(["token", "-p", "service"], { env })
        assert.notStrictEqual(second.stdout, first.stdout)
        assert.strictEqual((yield* server.stats).tokenRequests, 2)

        const logout = yield* Cli.run(["logout", "-p", "service"], { env })
        assert.strictEqual(logout.code, 0, logout.stderr)
        assert.match(logout.stderr, /token deleted and revoked \(access token\)/)
        const tokens = yield* server.tokens
        assert.deepStrictEqual(tokens.map((t) => t.revoked), [false, true])

        // a profile with a token URL only: no revocation endpoint known, the token is deleted all the same
        yield* Cli.run(["token", "-p", "plain"], { env })
        const plain = yield* Cli.run(["logout", "-p", "plain"], { env })
        assert.strictEqual(plain.code, 0, plain.stderr)
        assert.match(plain.stderr, /token deleted; the server publishes no revocation endpoint/)
        const nothing = yield* Cli.run(["logout", "-p", "plain"], { env })
        assert.match(nothing.stderr, /no token was cached; nothing to revoke/)
      }).pipe(Effect.scoped, Effect.provide(Server)),
    60_000
  )
})

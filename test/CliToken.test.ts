/**
 * `tokenlayer token` and `tokenlayer header`, the built command run as a child process against
 * AuthServer (real HTTP on 127.0.0.1, the real clock: the child has its own): the file store makes a
 * second call within the token's life free, a due token costs one request, ten shells calling at once
 * on a cold cache make one request, and flags and `TOKENLAYER_*` variables override the profile.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { AuthServer } from "tokenlayer/testing"
import * as Cli from "./support/cli.js"

const secret = "s3cret-for-the-cli-tests"

const keys = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
const privatePem = keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString()
const publicPem = keys.publicKey.export({ type: "spki", format: "pem" }).toString()

const Server = AuthServer.layer({
  clients: [
    { id: "iceye-client", secret, method: "client_secret_basic" },
    { id: "jwt-client", secret, method: "client_secret_jwt" },
    { id: "key-client", method: "private_key_jwt", publicKey: publicPem },
    { id: "thingpark-client", secret, method: "client_secret_post", scopes: ["read", "write"] }
  ]
})

/** The one token the server issued to a client, by value. */
const issuedTo = (clientId: string) =>
  Effect.map(AuthServer.tokens, (tokens) => tokens.filter((t) => t.clientId === clientId))

/** A config with an ICEYE-like profile (HTTP Basic) and a ThingPark-like one (client_secret_post). */
const profiles = (server: AuthServer.Service) => ({
  default: "iceye",
  profiles: {
    iceye: {
      tokenUrl: server.tokenUrl,
      clientId: "iceye-client",
      secretEnv: "ICEYE_CLIENT_SECRET",
      buffer: "5m"
    },
    thingpark: {
      issuer: server.issuer,
      clientId: "thingpark-client",
      clientAuth: "client_secret_post",
      secretEnv: "THINGPARK_CLIENT_SECRET",
      scope: "read",
      buffer: "10s"
    }
  }
})

const secrets = { ICEYE_CLIENT_SECRET: secret, THINGPARK_CLIENT_SECRET: secret }

describe("tokenlayer token", () => {
  it.live("prints the token and nothing else; a second call within its life makes no request", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      yield* box.writeConfig(profiles(server))

      const first = yield* Cli.run(["token", "--profile", "iceye"], { env: box.env(secrets) })
      assert.strictEqual(first.code, 0, first.stderr)
      assert.strictEqual(first.stderr, "")
      const [issued] = yield* issuedTo("iceye-client")
      assert.strictEqual(first.stdout, `${Redacted.value(issued!.accessToken)}\n`)

      const second = yield* Cli.run(["token", "--profile", "iceye"], { env: box.env(secrets) })
      assert.strictEqual(second.code, 0, second.stderr)
      assert.strictEqual(second.stdout, first.stdout)
      assert.strictEqual((yield* server.stats).tokenRequests, 1)

      // the token file: 0600 in a 0700 directory
      const files = yield* box.stateFiles
      const tokenFile = files.find((name) => name.endsWith(".json"))!
      assert.strictEqual(fs.statSync(path.join(box.stateDir, tokenFile)).mode & 0o777, 0o600)
      assert.strictEqual(fs.statSync(box.stateDir).mode & 0o777, 0o700)
    }).pipe(Effect.scoped, Effect.provide(Server)))

  it.live("once the token is due: exactly one more request (the clock shifted past the buffer)", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      yield* box.writeConfig(profiles(server))

      const first = yield* Cli.run(["token"], { env: box.env(secrets) })
      assert.strictEqual(first.code, 0, first.stderr)
      // 54 minutes later, the 1-hour token has 6 minutes left: more than the 5-minute buffer
      const before = yield* Cli.run(["token"], { env: box.env({ ...secrets, TOKENLAYER_CLOCK_OFFSET: "54m" }) })
      assert.strictEqual(before.stdout, first.stdout)
      assert.strictEqual((yield* server.stats).tokenRequests, 1)
      // 56 minutes later, 4 minutes left: due, renewed
      const due = yield* Cli.run(["token"], { env: box.env({ ...secrets, TOKENLAYER_CLOCK_OFFSET: "56m" }) })
      assert.strictEqual(due.code, 0, due.stderr)
      assert.notStrictEqual(due.stdout, first.stdout)
      assert.strictEqual((yield* server.stats).tokenRequests, 2)
      // and the new token is used from then on
      const after = yield* Cli.run(["token"], { env: box.env({ ...secrets, TOKENLAYER_CLOCK_OFFSET: "57m" }) })
      assert.strictEqual(after.stdout, due.stdout)
      assert.strictEqual((yield* server.stats).tokenRequests, 2)
    }).pipe(Effect.scoped, Effect.provide(Server)))

  it.live("10 parallel cold invocations: one token request, one token for all", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      yield* box.writeConfig(profiles(server))
      const results = yield* Effect.forEach(
        Array.from({ length: 10 }, () => ["token", "--profile", "thingpark"]),
        (args) => Cli.run(args, { env: box.env(secrets), timeout: "90 seconds" }),
        { concurrency: "unbounded" }
      )
      for (const result of results) assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(new Set(results.map((r) => r.stdout)).size, 1)
      const stats = yield* server.stats
      assert.strictEqual(stats.tokenRequests, 1)
      assert.deepStrictEqual(stats.tokenRequestsBy["thingpark-client"], { issued: 1 })
      // the issuer's metadata named the token endpoint: one discovery per process that fetched
      assert.strictEqual(stats.metadataRequests, 1)
    }).pipe(Effect.scoped, Effect.provide(Server)), 120_000)

  it.live("header prints the Authorization header of the same cached token", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      yield* box.writeConfig(profiles(server))
      const token = yield* Cli.run(["token", "-p", "thingpark"], { env: box.env(secrets) })
      const header = yield* Cli.run(["header", "-p", "thingpark"], { env: box.env(secrets) })
      assert.strictEqual(header.code, 0, header.stderr)
      assert.strictEqual(header.stdout, `Authorization: Bearer ${token.stdout}`)
      assert.strictEqual((yield* server.stats).tokenRequests, 1)
      const [issued] = yield* issuedTo("thingpark-client")
      assert.deepStrictEqual(issued!.scope, ["read"])
      // as curl -H "$(tokenlayer header)" would send it, the API takes it
      const [name, value] = header.stdout.trimEnd().split(": ")
      const status = yield* Effect.promise(() =>
        fetch(server.apiUrl("contracts"), { headers: { [name!]: value! } }).then((response) => response.status)
      )
      assert.strictEqual(status, 200)
    }).pipe(Effect.scoped, Effect.provide(Server)))
})

describe("flags and TOKENLAYER_* variables override the profile", () => {
  it.live("without any profile: everything from the environment", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      const result = yield* Cli.run(["token"], {
        env: box.env({
          TOKENLAYER_TOKEN_URL: server.tokenUrl,
          TOKENLAYER_CLIENT_ID: "thingpark-client",
          TOKENLAYER_CLIENT_AUTH: "post",
          TOKENLAYER_CLIENT_SECRET: secret,
          TOKENLAYER_SCOPE: "write"
        })
      })
      assert.strictEqual(result.code, 0, result.stderr)
      const [issued] = yield* issuedTo("thingpark-client")
      assert.deepStrictEqual(issued!.scope, ["write"])
    }).pipe(Effect.scoped, Effect.provide(Server)))

  it.live("a variable overrides the profile, and a flag overrides the variable", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      yield* box.writeConfig(profiles(server))
      // the profile asks for read; TOKENLAYER_SCOPE for write
      const byVariable = yield* Cli.run(["token", "-p", "thingpark"], {
        env: box.env({ ...secrets, TOKENLAYER_SCOPE: "write" })
      })
      assert.strictEqual(byVariable.code, 0, byVariable.stderr)
      // --scope wins over TOKENLAYER_SCOPE; TOKENLAYER_PROFILE picks the profile
      const byFlag = yield* Cli.run(["token", "--scope", "read write"], {
        env: box.env({ ...secrets, TOKENLAYER_SCOPE: "write", TOKENLAYER_PROFILE: "thingpark" })
      })
      assert.strictEqual(byFlag.code, 0, byFlag.stderr)
      const scopes = (yield* issuedTo("thingpark-client")).map((t) => t.scope.join(" "))
      assert.deepStrictEqual(scopes, ["write", "read write"])
      // different scopes are different cache entries
      assert.notStrictEqual(byVariable.stdout, byFlag.stdout)
      assert.strictEqual((yield* box.stateFiles).filter((f) => f.endsWith(".json")).length, 2)
    }).pipe(Effect.scoped, Effect.provide(Server)))

  it.live("the secret from a 0600 file or from stdin, never from an argument", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      yield* box.writeConfig(profiles(server))
      const file = yield* box.writeFile("secrets/iceye", `${secret}\n`, 0o600)
      const fromFile = yield* Cli.run(["token", "--secret-file", file], { env: box.env() })
      assert.strictEqual(fromFile.code, 0, fromFile.stderr)
      const fromStdin = yield* Cli.run(["token", "-p", "thingpark", "--secret-stdin"], {
        env: box.env(),
        stdin: `${secret}\n`
      })
      assert.strictEqual(fromStdin.code, 0, fromStdin.stderr)
      assert.strictEqual((yield* server.stats).tokenRequests, 2)
      // there is no flag that takes the secret itself
      const asArgument = yield* Cli.run(["token", "--client-secret", secret], { env: box.env(secrets) })
      assert.strictEqual(asArgument.code, 2)
      assert.isFalse(asArgument.stderr.includes(secret))
    }).pipe(Effect.scoped, Effect.provide(Server)))

  it.live("signed client assertions: client_secret_jwt with the secret, private_key_jwt with a PEM key file", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const box = yield* Cli.sandbox
      const hmac = yield* Cli.run(["token", "--token-url", server.tokenUrl, "--client-id", "jwt-client"], {
        env: box.env({ TOKENLAYER_CLIENT_AUTH: "client_secret_jwt", TOKENLAYER_CLIENT_SECRET: secret })
      })
      assert.strictEqual(hmac.code, 0, hmac.stderr)
      const keyFile = yield* box.writeFile("keys/client.pem", privatePem, 0o600)
      const signed = yield* Cli.run([
        "token",
        "--token-url",
        server.tokenUrl,
        "--client-id",
        "key-client",
        "--client-auth",
        "private_key_jwt",
        "--secret-file",
        keyFile
      ], { env: box.env() })
      assert.strictEqual(signed.code, 0, signed.stderr)
      const stats = yield* server.stats
      assert.deepStrictEqual(stats.tokenRequestsBy["jwt-client"], { issued: 1 })
      assert.deepStrictEqual(stats.tokenRequestsBy["key-client"], { issued: 1 })
      assert.isFalse(`${signed.stdout}${signed.stderr}`.includes("PRIVATE KEY"))
    }).pipe(Effect.scoped, Effect.provide(Server)))
})

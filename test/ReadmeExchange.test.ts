/**
 * The README's token exchange programs (scratchpad/readme/kubernetes.ts, githubActions.ts,
 * onBehalfOf.ts), their layers run against AuthServer on 127.0.0.1: a token file in a temp directory,
 * a local stand-in for the GitHub Actions runner, a chain of two services. Their settings come from
 * the environment, set before each program is imported.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, TestClock } from "effect"
import * as Jose from "jose"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { TokenService } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { apiStatus } from "./support/authServer.js"
import * as TokenEndpoint from "./support/tokenEndpoint.js"

const ISSUER = "https://issuer.example"
const KEY = "the-workload-identity-key-for-tests"

const Server = AuthServer.layer({
  clients: [
    { id: "deployer", method: "none" },
    { id: "billing-pod", method: "none" },
    { id: "orders", secret: "orders-s3cret", tokenLifetime: "10 minutes" }
  ],
  tokenExchange: { trustedIssuers: [{ issuer: ISSUER, secret: KEY, audiences: ["sts"] }] }
})

const workloadToken = (sub: string) =>
  Effect.promise(() =>
    new Jose.SignJWT({ sub }).setProtectedHeader({ alg: "HS256" }).setIssuer(ISSUER).setAudience("sts")
      .setIssuedAt(0).setExpirationTime(900).sign(new TextEncoder().encode(KEY))
  )

const withEnv = (vars: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => Object.assign(process.env, vars)),
    () => Effect.sync(() => Object.keys(vars).forEach((name) => delete process.env[name]))
  )

describe("README: token exchange programs", () => {
  it.scoped("Kubernetes: the projected token file", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tokenlayer-readme-k8s-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const file = path.join(dir, "sts-token")
      fs.writeFileSync(file, yield* workloadToken("system:serviceaccount:shop:billing"), { mode: 0o600 })
      yield* withEnv({ STS_TOKEN_URL: server.tokenUrl, STS_TOKEN_FILE: file })
      const { BillingTokens } = yield* Effect.promise(() => import("../scratchpad/readme/kubernetes.js"))
      const token = yield* Effect.provide(TokenService.get, BillingTokens)
      assert.strictEqual(yield* apiStatus(token), 200)
      assert.strictEqual((yield* AuthServer.tokens).at(-1)!.exchange?.subject, "system:serviceaccount:shop:billing")
    }).pipe(Effect.provide(Layer.merge(Server, NodeHttpClient.layerUndici))))

  it.scoped("GitHub Actions: the OIDC token from the runner's request URL", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      const runner = yield* TokenEndpoint.TokenEndpoint
      yield* runner.respond({ body: { value: yield* workloadToken("repo:acme/app:ref:refs/heads/main") } })
      yield* withEnv({
        STS_TOKEN_URL: server.tokenUrl,
        ACTIONS_ID_TOKEN_REQUEST_URL: `${runner.url}?api-version=2.0`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: "runner-request-token"
      })
      const { DeployTokens } = yield* Effect.promise(() => import("../scratchpad/readme/githubActions.js"))
      const token = yield* Effect.provide(TokenService.get, DeployTokens)
      assert.strictEqual(yield* apiStatus(token), 200)
      assert.strictEqual((yield* AuthServer.tokens).at(-1)!.exchange?.subject, "repo:acme/app:ref:refs/heads/main")
      const [asked] = yield* runner.requests
      assert.strictEqual(asked!.headers["authorization"], "Bearer runner-request-token")
      assert.include(asked!.url, "audience=sts")
    }).pipe(Effect.provide(Layer.mergeAll(Server, TokenEndpoint.layer, NodeHttpClient.layerUndici))))

  it.scoped("on behalf of: the service's own token exchanged; renewing the outer renews the inner first", () =>
    Effect.gen(function*() {
      const server = yield* AuthServer.AuthServer
      yield* withEnv({ TOKEN_URL: server.tokenUrl, ORDERS_SECRET: "orders-s3cret" })
      const { DownstreamTokens } = yield* Effect.promise(() => import("../scratchpad/readme/onBehalfOf.js"))
      yield* Effect.gen(function*() {
        const first = yield* TokenService.get
        yield* TestClock.adjust("6 minutes")
        const second = yield* TokenService.get
        assert.notStrictEqual(Redacted.value(first.accessToken), Redacted.value(second.accessToken))
        assert.strictEqual(yield* apiStatus(second), 200)
      }).pipe(Effect.provide(DownstreamTokens))
      const grants = (yield* AuthServer.tokens).map((t) => t.grantType)
      assert.deepStrictEqual(grants, [
        "client_credentials",
        AuthServer.tokenExchangeGrantType,
        "client_credentials",
        AuthServer.tokenExchangeGrantType
      ])
    }).pipe(Effect.provide(Layer.merge(Server, NodeHttpClient.layerUndici))))
})

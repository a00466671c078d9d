/**
 * `AuthServer` and `TestGrant` from plain async code, as a test suite without Effect writes them:
 * `await AuthServer.start(...)`, a `TokenManager` over it, `await server.stop()`. The layers a
 * `TokenManager` takes are built outside the test bodies; the bodies are Promises only. Real clock, no
 * timing assertions; `minTokenLifetime` short, so that the service's spacing of token requests (1 s by
 * default) does not make the tests wait.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Layer, Redacted } from "effect"
import { Grant, RetryPolicy, TokenManager, TokenService } from "tokenlayer"
import { AuthServer, TestGrant } from "tokenlayer/testing"
import { afterEach, describe, expect, it } from "vitest"

/** What the test releases when it ends, last first. */
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const spacing = { minTokenLifetime: "10 millis" } as const

const managerFor = (tokenUrl: string, clientId: string, secret: string) => {
  const tokens = TokenManager.make(
    TokenService.layer(spacing).pipe(
      Layer.provide(Grant.clientCredentials({ tokenUrl, clientId, clientSecret: Redacted.make(secret) })),
      Layer.provide(NodeHttpClient.layerUndici)
    )
  )
  cleanups.push(tokens.dispose)
  return tokens
}

const started = async (options: AuthServer.Options) => {
  const server = await AuthServer.start(options)
  cleanups.push(server.stop)
  return server
}

describe("AuthServer from plain async code", () => {
  it("start, a token through TokenManager, the counters as Promises, stop", async () => {
    const server = await started({ clients: [{ id: "app", secret: "s3cret" }] })
    expect(server.tokenUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/token$/)
    const tokens = managerFor(server.tokenUrl, "app", "s3cret")

    const token = await tokens.getToken()
    expect(await tokens.getToken()).toBe(token)
    const response = await tokens.fetch(server.apiUrl("me"))
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ ok: true, client_id: "app" })

    const stats = await server.stats()
    expect(stats.tokenRequestsBy).toEqual({ app: { issued: 1 } })
    const issued = await server.tokens()
    expect(issued.map((t) => Redacted.value(t.accessToken))).toEqual([token])

    // the controls are Promises too: a revoked token is refused, and the manager fetches a new one
    expect(await server.revoke(token)).toBe(true)
    const again = await tokens.fetch(server.apiUrl("me"))
    expect(again.status).toBe(200)
    expect((await server.stats()).tokenRequestsBy).toEqual({ app: { issued: 2 } })
    expect((await server.stats()).unauthorizedBy.revoked).toBe(1)
  })

  it("faults and registration at run time; a failed request rejects with the typed error", async () => {
    const server = await started({})
    await server.register({ id: "late", secret: "l4te" })
    await server.inject(AuthServer.Fault.status(400, { error: "invalid_client", description: "go away" }))
    const tokens = managerFor(server.tokenUrl, "late", "l4te")
    await expect(tokens.getToken()).rejects.toMatchObject({ _tag: "HttpError", error: "invalid_client" })
    expect(await tokens.getToken()).toMatch(/^[A-Za-z0-9_-]{43}$/)
    // a defect of a control (an unknown client) rejects with an Error, not a wrapper
    await expect(server.issueRefreshToken("nobody")).rejects.toThrow(/unknown client nobody/)
  })

  it("a server that cannot start rejects with an Error that says why", async () => {
    await expect(AuthServer.start({ clients: [{ id: "x", method: "client_secret_post" }] })).rejects.toThrow(
      /client x \(client_secret_post\) needs a secret/
    )
  })

  it("stop closes the port, and is idempotent", async () => {
    const server = await AuthServer.start({ clients: [{ id: "app", secret: "s3cret" }] })
    await server.stop()
    await server.stop()
    await expect(fetch(server.tokenUrl, { method: "POST" })).rejects.toThrow()
  })
})

describe("TestGrant from plain async code", () => {
  it("a grant for TokenManager, its counters and faults as Promises", async () => {
    const grant = await TestGrant.start({ lifetime: "1 hour" })
    cleanups.push(grant.stop)
    const tokens = TokenManager.make(
      TokenService.layer(spacing).pipe(Layer.provide(grant.layer), Layer.provide(RetryPolicy.none))
    )
    cleanups.push(tokens.dispose)

    // no retries here (they would wait on the real clock): the 503 rejects, the next call gets a token
    await grant.failNext(1, TestGrant.unavailable)
    await expect(tokens.getToken()).rejects.toMatchObject({ _tag: "HttpError", status: 503 })
    expect(await tokens.getToken()).toBe("test-access-token-1")
    expect(await tokens.getToken()).toBe("test-access-token-1")
    expect(await grant.requests()).toBe(2)
    await grant.setLifetime("5 minutes")
    expect((await grant.issued()).map((t) => t.expiresIn)).toEqual([3600])
  })
})

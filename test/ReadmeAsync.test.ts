import { NodeHttpClient } from "@effect/platform-node"
import { Layer, Redacted } from "effect"
import { Grant, TokenManager, TokenService } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"
import { afterAll, beforeAll, expect, it } from "vitest"

let server: AuthServer.Running
let tokens: TokenManager.TokenManager
beforeAll(async () => {
  server = await AuthServer.start({ clients: [{ id: "app", secret: "s3cret" }] })
  tokens = TokenManager.make(
    // on the real clock: a short minTokenLifetime, so that a test after a revocation need not wait 1 s
    TokenService.layer({ minTokenLifetime: "10 millis" }).pipe(
      Layer.provide(Grant.clientCredentials({
        tokenUrl: server.tokenUrl,
        clientId: "app",
        clientSecret: Redacted.make("s3cret")
      })),
      Layer.provide(NodeHttpClient.layerUndici)
    )
  )
})
afterAll(async () => {
  await tokens.dispose()
  await server.stop()
})

it("calls the API with one token, and gets a new one after a revocation", async () => {
  const response = await tokens.fetch(server.apiUrl("orders"))
  expect(response.status).toBe(200)
  expect((await server.stats()).tokenRequests).toBe(1)

  await server.revoke(await tokens.getToken()) // the API now answers 401 to that token
  expect((await tokens.fetch(server.apiUrl("orders"))).status).toBe(200)
  expect((await server.stats()).tokenRequests).toBe(2)
})

/**
 * The ICEYE flow (../shared/seeds/000): client_credentials with HTTP Basic client authentication,
 * 1-hour tokens renewed 5 minutes before expiry, token requests retried on network faults, one token
 * request at a time however many fibers ask, and on a 401 a new token and one retry (TokenHttpClient).
 *
 *   npm run example:iceye      # against the embedded AuthServer on 127.0.0.1
 *   ICEYE_TOKEN_URL=... ICEYE_CLIENT_ID=... ICEYE_CLIENT_SECRET=... npm run example:iceye   # against ICEYE
 *
 * Optional with the real service: ICEYE_API_URL (default https://platform.iceye.com/api/company/v1/contracts).
 */
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Config, Console, Effect, Layer, Redacted } from "effect"
import { Grant, RefreshPolicy, RetryPolicy, TokenHttpClient, TokenService, TokenStore } from "tokenlayer"
import { AuthServer } from "tokenlayer/testing"

const real = process.env.ICEYE_CLIENT_ID !== undefined

/** Where the contracts are, and the grant that gets tokens for them. */
interface Target {
  readonly contractsUrl: string
  readonly grant: Layer.Layer<Grant.Grant, unknown, HttpClient.HttpClient>
  /** Locally: revokes the current token, to show the 401 retry. */
  readonly revokeAll: Effect.Effect<void>
}

const ICEYE: Effect.Effect<Target, unknown> = Effect.map(
  Config.string("ICEYE_API_URL").pipe(Config.withDefault("https://platform.iceye.com/api/company/v1/contracts")),
  (contractsUrl) => ({
    contractsUrl,
    // reads ICEYE_TOKEN_URL, ICEYE_CLIENT_ID, ICEYE_CLIENT_SECRET (Basic authentication is the default)
    grant: Grant.clientCredentialsConfig(Config.nested(Grant.clientCredentialsOptionsConfig, "ICEYE")),
    revokeAll: Effect.void
  })
)

const local: Effect.Effect<Target, never, AuthServer.AuthServer> = Effect.map(AuthServer.AuthServer, (server) => ({
  contractsUrl: server.apiUrl("company/v1/contracts"),
  grant: Grant.clientCredentials({
    tokenUrl: server.tokenUrl,
    clientId: "iceye-example",
    clientSecret: Redacted.make("iceye-example-secret")
  }),
  revokeAll: Effect.asVoid(server.revokeClient("iceye-example"))
}))

const contracts = (url: string) =>
  Effect.flatMap(HttpClient.HttpClient, (api) => api.get(url, { acceptJson: true })).pipe(
    Effect.flatMap(HttpClientResponse.filterStatusOk),
    Effect.flatMap((response) => response.json)
  )

const main = (target: Target) =>
  Effect.gen(function*() {
    yield* Console.log(real ? `ICEYE: ${target.contractsUrl}` : `local AuthServer: ${target.contractsUrl}`)
    yield* Console.log("contracts:", yield* contracts(target.contractsUrl))
    if (!real) {
      yield* target.revokeAll
      yield* Console.log("(the server revoked the token: the next call meets a 401, gets a new token, retries)")
    }
    yield* Console.log("contracts again:", yield* contracts(target.contractsUrl))
  }).pipe(
    // the program's HttpClient is the authorized one; the grant asks with the plain client
    Effect.provide(
      TokenHttpClient.layer.pipe(
        Layer.provide(
          TokenService.layer().pipe(
            Layer.provide(target.grant),
            Layer.provide([RefreshPolicy.fixed("5 minutes"), RetryPolicy.layerDefault, TokenStore.layerMemory])
          )
        ),
        Layer.provide(NodeHttpClient.layerUndici)
      )
    )
  )

const LocalServer = AuthServer.layer({ clients: [{ id: "iceye-example", secret: "iceye-example-secret" }] })

NodeRuntime.runMain(
  real ? Effect.flatMap(ICEYE, main) : Effect.flatMap(local, main).pipe(Effect.provide(LocalServer))
)

// The README's GitHub Actions example: the job's OIDC token, asked of the runner, traded for an API token
// (test/ReadmeExchange.test.ts runs it against a local stand-in for the runner and AuthServer).
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Config, Effect, Layer, Redacted, Schema } from "effect"
import { Grant, TokenService, TokenSource } from "tokenlayer"

// the runner hands out the job's OIDC token at ACTIONS_ID_TOKEN_REQUEST_URL (with `permissions: id-token: write`)
const githubOidc = (audience: string) =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const url = yield* Config.string("ACTIONS_ID_TOKEN_REQUEST_URL")
    const bearer = yield* Config.redacted("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    return TokenSource.make({
      name: "GitHub Actions OIDC",
      token: http.execute(
        HttpClientRequest.get(`${url}&audience=${encodeURIComponent(audience)}`).pipe(
          HttpClientRequest.bearerToken(Redacted.value(bearer))
        )
      ).pipe(
        Effect.flatMap((response) => response.json),
        Effect.flatMap(Schema.decodeUnknown(Schema.Struct({ value: Schema.String }))),
        Effect.map(({ value }) => Redacted.make(value)),
        Effect.scoped
      )
    })
  })

export const DeployTokens = Layer.unwrapEffect(
  Effect.map(githubOidc("sts"), (subject) =>
    TokenService.layer().pipe(
      Layer.provide(Grant.tokenExchange({
        tokenUrl: process.env.STS_TOKEN_URL ?? "https://sts.example.com/oauth2/token",
        clientId: "deployer",
        subject,
        audience: "deploy-api"
      }))
    ))
).pipe(Layer.provide(NodeHttpClient.layerUndici))

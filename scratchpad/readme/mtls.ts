// The README's mutual TLS example (type-checked with the library; test/MutualTls.test.ts runs the same
// steps over real TLS against AuthServer).
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Redacted } from "effect"
import { ClientAuth, Grant, MutualTls, TokenHttpClient, TokenService } from "tokenlayer"

// the client certificate and its key, PEM; checked when the layer is built (a CertificateError
// names what is wrong: not PEM, a key that is not the certificate's, an expired certificate)
const TlsLive = MutualTls.layer({
  certificate: Redacted.make(process.env.CLIENT_CERT ?? ""),
  privateKey: Redacted.make(process.env.CLIENT_KEY ?? "")
})

// tls_client_auth: the certificate is presented on the token endpoint's connection, client_id is in
// the form; the issuer's mtls_endpoint_aliases are used when its metadata has them
const TokensLive = Layer.unwrapEffect(Effect.map(MutualTls.MutualTls, (tls) =>
  TokenService.layer().pipe(
    Layer.provide(Grant.clientCredentials({
      issuer: "https://auth.example.com",
      clientId: "my-client",
      clientAuth: ClientAuth.tlsClientAuth(tls)
    }))
  )))

// the tokens are bound to the certificate: the API is called over the certificate's client too
const program = Effect.gen(function*() {
  const tls = yield* MutualTls.MutualTls
  const api = TokenHttpClient.authorize(tls.httpClient, yield* TokenService.TokenService)
  const response = yield* api.get("https://api.example.com/accounts")
  yield* Console.log(yield* response.json)
})

NodeRuntime.runMain(
  program.pipe(
    Effect.scoped,
    Effect.provide(TokensLive.pipe(Layer.provideMerge(TlsLive), Layer.provide(NodeHttpClient.layerUndici)))
  )
)

// The README's Kubernetes example: the pod's projected service account token traded for an API token
// (test/ReadmeExchange.test.ts runs it against AuthServer and a token file in a temp directory).
import { NodeHttpClient } from "@effect/platform-node"
import { Layer } from "effect"
import { Grant, TokenService, TokenSource } from "tokenlayer"

// the kubelet rotates the file; it is read again before each exchange, so no restart is needed
export const BillingTokens = TokenService.layer().pipe(
  Layer.provide(Grant.tokenExchange({
    tokenUrl: process.env.STS_TOKEN_URL ?? "https://sts.example.com/oauth2/token",
    clientId: "billing-pod", // a public client: its id in the form, no secret
    subject: TokenSource.file(process.env.STS_TOKEN_FILE ?? "/var/run/secrets/tokens/sts-token"),
    audience: "billing"
  })),
  Layer.provide(NodeHttpClient.layerUndici)
)

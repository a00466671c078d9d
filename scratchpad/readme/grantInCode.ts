// The README's "options in code" fragment.
import { Redacted } from "effect"
import { Grant } from "tokenlayer"

const IceyeGrant = Grant.clientCredentials({
  tokenUrl: "https://auth.example.com/oauth2/token",
  clientId: "my-client",
  clientSecret: Redacted.make(process.env.ICEYE_CLIENT_SECRET ?? ""), // HTTP Basic by default
  scope: ["read", "write"] // optional, like audience, resource and extraParams; never sent empty
})

export { IceyeGrant }

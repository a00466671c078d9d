// The README's Promise bridge example (type-checked with the library).
import { NodeHttpClient } from "@effect/platform-node"
import axios from "axios"
import { Layer, Redacted } from "effect"
import { Grant, TokenManager, TokenService } from "tokenlayer"
import { authorizeAxios } from "./axios.js"

const tokens = TokenManager.make(
  TokenService.layer().pipe(
    Layer.provide(Grant.clientCredentials({
      tokenUrl: "https://auth.example.com/oauth2/token",
      clientId: "my-client",
      clientSecret: Redacted.make(process.env.CLIENT_SECRET ?? "")
    })),
    Layer.provide(NodeHttpClient.layerUndici)
  )
)

// fetch: the token added, and one retry with a new token after a 401
const response = await tokens.fetch("https://api.example.com/contracts")
console.log(response.status, await response.json())

// axios: the interceptors of scratchpad/readme/axios.ts
const api = authorizeAxios(axios.create({ baseURL: "https://api.example.com" }), tokens)
const contracts = await api.get("/contracts")
console.log(contracts.data)

// or just the token, for anything else
const token = await tokens.getToken()
void token

await tokens.dispose() // closes its connections

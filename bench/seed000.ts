/**
 * A direct TypeScript port of seed 000's JavaScript `IceyeAuthManager` (ICEYE, "Manage Access Tokens"),
 * the baseline tokenlayer is compared with. The logic is kept as published: no single flight (every
 * caller that finds no valid token sends its own request), the 5-minute check in `getToken`, the
 * 60-second buffer on `expires_in`, HTTP Basic client authentication. The only change is the transport:
 * global `fetch` instead of `axios.post` (axios rejects a non-2xx answer and parses JSON; so does this).
 */

export class IceyeAuthManager {
  private readonly base64Key: string
  private accessToken: string | null = null
  private tokenExpiry: number | null = null

  constructor(
    private readonly tokenUrl: string,
    private readonly clientId: string,
    private readonly clientSecret: string
  ) {
    // Generate BASE64_KEY
    this.base64Key = Buffer.from(`${this.clientId}:${this.clientSecret}`).toString("base64")
  }

  async getToken(): Promise<string | null> {
    // Request new token if it doesn't exist or expires in less than 5 minutes
    // (`?? 0` only satisfies the type checker: it is read only when a token, hence an expiry, is set)
    // eslint-disable-next-line no-restricted-syntax -- a port of plain JavaScript: it reads the wall clock
    if (!this.accessToken || Date.now() >= (this.tokenExpiry ?? 0) - 5 * 60 * 1000) {
      await this.requestNewToken()
    }
    return this.accessToken
  }

  async requestNewToken(): Promise<void> {
    const response = await fetch(this.tokenUrl, {
      method: "POST",
      headers: {
        "Authorization": `Basic ${this.base64Key}`,
        "Content-Type": "application/x-www-form-urlencoded"
      },
      body: "grant_type=client_credentials"
    })
    if (!response.ok) {
      // what axios does with a non-2xx answer
      throw new Error(`Request failed with status code ${response.status}`)
    }
    const data = (await response.json()) as { readonly access_token: string; readonly expires_in: number }

    this.accessToken = data.access_token
    // Set expiry time (subtract 60 seconds as buffer)
    // eslint-disable-next-line no-restricted-syntax -- a port of plain JavaScript: it reads the wall clock
    this.tokenExpiry = Date.now() + (data.expires_in - 60) * 1000
  }
}

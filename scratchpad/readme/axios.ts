// The README's axios example: a request interceptor that adds the token, and a response interceptor
// that, after a 401, drops that token and sends the request once more (test/TokenManager.test.ts runs it).
import type { AxiosInstance, AxiosResponse, InternalAxiosRequestConfig } from "axios"
import { isAxiosError } from "axios"
import type { TokenManager } from "tokenlayer"

/** A request sent again after a 401 (axios copies the config it is given, and this field with it). */
type Config = InternalAxiosRequestConfig & { readonly tokenlayerRetry?: true }

export const authorizeAxios = (api: AxiosInstance, tokens: TokenManager.TokenManager): AxiosInstance => {
  /** Once per request: forget the token it carried, and send it again (with a new one). */
  const retry = async (config: Config): Promise<AxiosResponse | undefined> => {
    if (config.tokenlayerRetry) return undefined
    await tokens.invalidate(String(config.headers.Authorization).replace(/^Bearer /, ""))
    const again: Config = { ...config, tokenlayerRetry: true }
    return api.request(again)
  }
  api.interceptors.request.use(async (config) => {
    config.headers.Authorization = await tokens.authorizationHeader()
    return config
  })
  api.interceptors.response.use(
    async (response) => response.status === 401 ? (await retry(response.config)) ?? response : response,
    async (error: unknown) => {
      if (isAxiosError(error) && error.response?.status === 401 && error.config !== undefined) {
        const response = await retry(error.config)
        if (response !== undefined) return response
      }
      throw error
    }
  )
  return api
}

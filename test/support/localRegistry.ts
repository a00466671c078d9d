/**
 * A read-only npm registry on 127.0.0.1 that knows exactly the packages of the repository's
 * package-lock.json, at its versions, and serves their tarballs from the npm cache that the repository's
 * `npm ci` filled (npm's cache keeps every tarball under its integrity hash). A fresh project can then
 * run a plain `npm install effect@~3.22.4 ... ./tokenlayer-0.1.0.tgz`, with npm's own resolution and
 * peer checks, and no network beyond 127.0.0.1: a version the lock file does not have does not exist.
 *
 * The packuments are built from the lock file's entries (version, dependencies, optional and peer
 * dependencies, os / cpu / libc, bin, engines, integrity): what npm reads to resolve a tree.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import type * as net from "node:net"
import * as path from "node:path"

interface LockEntry {
  readonly version?: string
  readonly integrity?: string
  readonly link?: boolean
  readonly [key: string]: unknown
}

export interface LocalRegistry {
  /** The registry's URL, with a trailing slash (for `--registry`). */
  readonly url: string
  /** Tarballs asked for that the npm cache does not have (a failure of the install, made visible). */
  readonly missing: ReadonlyArray<string>
  readonly close: () => Promise<void>
}

const MANIFEST_FIELDS = [
  "dependencies",
  "optionalDependencies",
  "peerDependencies",
  "peerDependenciesMeta",
  "os",
  "cpu",
  "libc",
  "bin",
  "engines",
  "license",
  "hasInstallScript"
] as const

/** The package name a lock path ends in: `node_modules/a/node_modules/@s/b` is `@s/b`. */
const nameOf = (location: string): string => location.slice(location.lastIndexOf("node_modules/") + 13)

/** Where npm's cache (cacache) keeps the content with this integrity. */
const contentPath = (cache: string, integrity: string): string => {
  const dash = integrity.indexOf("-")
  const algorithm = integrity.slice(0, dash)
  const hex = Buffer.from(integrity.slice(dash + 1), "base64").toString("hex")
  return path.join(cache, "_cacache", "content-v2", algorithm, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4))
}

/**
 * Starts the registry for the packages of `lockFile`, serving tarballs from the npm cache directory
 * `cache` (what `npm config get cache` answers).
 */
export const start = (lockFile: string, cache: string): Promise<LocalRegistry> =>
  new Promise((resolve, reject) => {
    const lock = JSON.parse(fs.readFileSync(lockFile, "utf8")) as { readonly packages: Record<string, LockEntry> }
    const versions = new Map<string, Map<string, LockEntry>>()
    for (const [location, entry] of Object.entries(lock.packages)) {
      if (location === "" || entry.link === true || entry.version === undefined || entry.integrity === undefined) {
        continue
      }
      const name = nameOf(location)
      const known = versions.get(name) ?? new Map<string, LockEntry>()
      known.set(entry.version, entry)
      versions.set(name, known)
    }
    const missing: Array<string> = []
    let base = ""
    const tarballUrl = (name: string, version: string) =>
      `${base}${name}/-/${name.slice(name.lastIndexOf("/") + 1)}-${version}.tgz`

    const packument = (name: string, known: Map<string, LockEntry>) => {
      const all: Record<string, unknown> = {}
      for (const [version, entry] of known) {
        const manifest: Record<string, unknown> = { name, version }
        for (const field of MANIFEST_FIELDS) if (entry[field] !== undefined) manifest[field] = entry[field]
        manifest.dist = { tarball: tarballUrl(name, version), integrity: entry.integrity }
        all[version] = manifest
      }
      const latest = [...known.keys()].sort((a, b) => a.localeCompare(b, "en", { numeric: true })).at(-1)!
      return { name, "dist-tags": { latest }, versions: all }
    }

    const server = http.createServer((request, response) => {
      const url = decodeURIComponent((request.url ?? "/").split("?")[0]!).replace(/^\/+/, "")
      const tarball = /^(.+)\/-\/[^/]+-([^/]+)\.tgz$/.exec(url)
      if (tarball !== null) {
        const entry = versions.get(tarball[1]!)?.get(tarball[2]!)
        const file = entry?.integrity === undefined ? undefined : contentPath(cache, entry.integrity)
        if (file === undefined || !fs.existsSync(file)) {
          missing.push(url)
          response.writeHead(404).end()
          return
        }
        response.writeHead(200, { "content-type": "application/octet-stream" })
        fs.createReadStream(file).pipe(response)
        return
      }
      const known = versions.get(url)
      if (request.method !== "GET" || known === undefined) {
        response.writeHead(404, { "content-type": "application/json" }).end("{\"error\":\"not found\"}")
        return
      }
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(packument(url, known)))
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`
      resolve({
        url: base,
        missing,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

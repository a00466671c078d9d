import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

export default defineConfig({
  resolve: {
    // tests run the TypeScript sources, never a stale build in dist/
    alias: [
      { find: /^tokenlayer$/, replacement: src("index.ts") },
      { find: /^tokenlayer\/testing$/, replacement: src("testing/index.ts") },
      { find: /^tokenlayer\/(.+)$/, replacement: src("$1.ts") }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // a failing assertion on a large object graph is reported, instead of hanging its worker
    setupFiles: ["./test/support/boundedFailures.ts"],
    // a run that stops moving fails and says where, instead of hanging until CI's own limit
    reporters: ["default", "./test/support/watchdog.ts"]
  }
})

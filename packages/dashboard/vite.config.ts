// Builds the page to dist/, served by the server at /dashboard (so assets live under /dashboard/).
// JSX goes through esbuild's automatic runtime: no React plugin needed.
import { defineConfig, defaultClientConditions } from "vite";

export default defineConfig({
  base: "/dashboard/",
  logLevel: "warn",
  resolve: { conditions: ["herald-source", ...defaultClientConditions] },
  esbuild: { jsx: "automatic" },
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1000 },
});

/**
 * The analytics page. The token comes from the page's own URL (`/?token=…`), as the seed's
 * NEXT_PUBLIC_WS_TOKEN did from the build; the one client is shared by every hook.
 */

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Herald } from "@herald/client";
import { HeraldProvider } from "@herald/react";
import { Dashboard } from "./Dashboard.js";

const token = new URLSearchParams(location.search).get("token") ?? undefined;
// /ws belongs to the seed's route (flat frames); the SDK speaks Herald's protocol on /herald.
const herald = new Herald({ url: location.origin, wsPath: "/herald", token });

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <HeraldProvider client={herald}>
      <Dashboard />
    </HeraldProvider>
  </StrictMode>,
);

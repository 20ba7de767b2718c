/** The monitor page: the seed's WebSocket tab, on its own. */

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { WebSocketMonitor } from "./WebSocketMonitor.js";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <WebSocketMonitor />
  </StrictMode>,
);

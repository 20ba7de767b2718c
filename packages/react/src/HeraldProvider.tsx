/** Provides a Herald client to the hooks below it, and connects it when it mounts. */

import { useEffect, type ReactNode } from "react";
import type { Herald } from "@herald/client";
import { HeraldContext } from "./context.js";

export interface HeraldProviderProps {
  client: Herald;
  /**
   * Call `client.connect()` on mount. Default true. The provider never disconnects on unmount
   * (StrictMode unmounts and mounts again at once); call `client.disconnect()` yourself.
   */
  autoConnect?: boolean;
  children?: ReactNode;
}

export function HeraldProvider({ client, autoConnect = true, children }: HeraldProviderProps) {
  useEffect(() => {
    if (autoConnect) client.connect();
  }, [client, autoConnect]);
  return <HeraldContext.Provider value={client}>{children}</HeraldContext.Provider>;
}

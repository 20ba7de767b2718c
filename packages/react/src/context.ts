/** The React context that carries the Herald client to the hooks. */

import { createContext, useContext } from "react";
import type { Herald } from "@herald/client";

export const HeraldContext = createContext<Herald | undefined>(undefined);

/** The client given to the nearest HeraldProvider. */
export function useHerald(): Herald {
  const herald = useContext(HeraldContext);
  if (!herald) throw new Error("useHerald: no <HeraldProvider client={herald}> above this component");
  return herald;
}

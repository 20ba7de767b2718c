/**
 * The vault page. `?owner=<pubkey>` picks the vault; `?client=seed` shows the seed's own bare
 * WebSocket component instead of the one on Herald's SDK, so both can be compared side by side.
 * `?view=operator&desk=north` is the operations desk's view of every vault it looks after.
 */

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Herald } from "@herald/client";
import { HeraldProvider } from "@herald/react";
import { Operations } from "./Operations.js";
import { OperatorView } from "./OperatorView.js";
import { SeedVaultDashboard } from "./SeedVaultDashboard.js";
import { VaultDashboard } from "./VaultDashboard.js";

const params = new URLSearchParams(location.search);
const owner = params.get("owner") ?? "HjxQC5jmM8JQrKmVLz29fvaVU428BQ3NzM7a3uQECt9m";
const operatorView = params.get("view") === "operator";
// The operator view holds its own connection: tabs that share one get the union of their
// subscriptions and filter on the client, and a desk's page should receive its desk's vaults only.
const herald = new Herald({ url: location.origin, ...(operatorView ? { share: false } : {}) });

const root = createRoot(document.getElementById("root")!);
if (operatorView) {
  // The operations desks' page: every vault of one desk, live (OperatorView.tsx).
  const desk = params.get("desk") ?? "north";
  root.render(
    <StrictMode>
      <h1>Collateral vaults: desk {desk}</h1>
      <OperatorView herald={herald} desk={desk} />
    </StrictMode>,
  );
} else {
  root.render(
    <StrictMode>
      <h1>Collateral vault</h1>
      <p className="owner">{owner}</p>
      <Operations owner={owner} />
      {params.get("client") === "seed" ? (
        <SeedVaultDashboard userAddress={owner} />
      ) : (
        <HeraldProvider client={herald}>
          <VaultDashboard owner={owner} />
        </HeraldProvider>
      )}
    </StrictMode>,
  );
}

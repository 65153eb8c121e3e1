import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App.js";
import { type ApprovalRequest, registerDevWallet } from "./dev-wallet.js";
import "./styles.css";

type Pending = { request: ApprovalRequest; answer: (ok: boolean) => void } | null;
let setPendingOutside: (p: Pending) => void = () => undefined;

// The dev wallet asks the page to show its dialog and waits for the person's answer.
registerDevWallet(
  (request) =>
    new Promise<boolean>((resolve) => {
      setPendingOutside({
        request,
        answer: (ok) => {
          setPendingOutside(null);
          resolve(ok);
        },
      });
    }),
);

function Root() {
  const [pending, setPending] = useState<Pending>(null);
  useEffect(() => {
    setPendingOutside = setPending;
  }, []);
  return <App pendingApproval={pending} />;
}

const root = document.getElementById("root");
if (root === null) throw new Error("no #root element");
createRoot(root).render(<Root />);

import { Herald } from "@herald/client";
const herald = new Herald({ url: "https://rt.example.com", shareWorker: "/share-worker.js" });
herald.connect();

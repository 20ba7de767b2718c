import { Herald } from "@herald/client";
import shareWorker from "@herald/client/share-worker?worker&url";
const herald = new Herald({ url: "https://rt.example.com", shareWorker });
herald.connect();
console.log(shareWorker);

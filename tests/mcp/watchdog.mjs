// Imported by the test peers: exit when the process that started us is gone
// (a test killed by its time limit cannot stop its peers itself).
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 300).unref();

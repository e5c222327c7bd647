/** `host:port` as gRPC targets, URLs and logs write it: an IPv6 literal in brackets ([::1]:50051). */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Linux address families, apart from libc.ts so that code which only formats addresses does not load koffi. */
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;

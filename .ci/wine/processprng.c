/* bcryptprimitives.dll for Wine 8, which lacks it: Go 1.26's windows
 * runtime gets its random bytes from ProcessPrng and dies at start-up
 * without it. This exports that one function over BCryptGenRandom, which
 * Wine has. Built by .ci/wine/setup with Debian's gcc-mingw-w64-x86-64-win32. */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x80000000u ? 0x80000000u : (ULONG)len;
		if (BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}

/* A stand-in for ICU's libicudata.so.<major>: the common-data entry point icudt<major>_dat with a
 * valid header and an EMPTY table of contents. wemask uses ICU only for NFC normalisation, whose
 * tables are compiled into libicuuc itself, so the 30 MB data library is not needed at run time;
 * tools/gpu_bundle.sh builds this stub (with -DICU_MAJOR=72) to keep the GPU bundle small. Any ICU
 * service that does need data fails with U_MISSING_RESOURCE_ERROR, which wemask reports.
 * Layout (ICU's udata format): 32-byte header {headerSize, magic 0xda 0x27, UDataInfo, padding},
 * then the "CmnD" offset table: a uint32 entry count (0). */
#include <stdint.h>

#ifndef ICU_MAJOR
#error "define ICU_MAJOR (e.g. -DICU_MAJOR=72)"
#endif
#define WEMASK_CAT2(a, b, c) a##b##c
#define WEMASK_CAT(a, b, c) WEMASK_CAT2(a, b, c)
#define ICU_DATA_ENTRY WEMASK_CAT(icudt, ICU_MAJOR, _dat)

struct icu_common_data_stub {
  uint16_t header_size;      /* 32 */
  uint8_t magic1, magic2;    /* 0xda, 0x27 */
  uint16_t info_size;        /* sizeof(UDataInfo) = 20 */
  uint16_t info_reserved;
  uint8_t is_big_endian, charset_family, sizeof_uchar, reserved_byte;
  uint8_t data_format[4];    /* "CmnD" */
  uint8_t format_version[4];
  uint8_t data_version[4];
  uint8_t padding[8];        /* up to header_size */
  uint32_t count;            /* table-of-contents entries */
  uint32_t unused[3];
};

__attribute__((visibility("default"))) const struct icu_common_data_stub ICU_DATA_ENTRY = {
    32, 0xda, 0x27, 20, 0,
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    1,
#else
    0,
#endif
    0 /* ASCII family */, 2, 0, {'C', 'm', 'n', 'D'}, {1, 0, 0, 0}, {0, 0, 0, 0}, {0}, 0, {0, 0, 0}};

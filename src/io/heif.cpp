// HEIF/HEIC through libheif (HEVC via libde265): the primary image, or its smallest thumbnail that is
// large enough. Also the ISOBMFF brand sniffing shared with AVIF and Canon CR3.
#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <libheif/heif.h>
#include <string>
#include <memory>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "io/library_messages.h"
#include "io/io_internal.h"
#include "io/lazy_library.h"
#include "irbis/errors.h"

namespace irbis::io {

namespace {

// libheif, loaded the first time a file needs it (lazy_library.h): not linked, so commands that
// decode no such file do not load it and its codecs at start-up.
LazyLibrary& libheif() {
  static LazyLibrary library(IRBIS_HEIF_SONAME, "HEIF/HEIC decoding", route_dav1d_log);  // AV1 items
  return library;
}

bool brand_is(const uint8_t* p, const char* brand) { return std::memcmp(p, brand, 4) == 0; }

// One ISOBMFF box inside [data, data + size): its type and payload. False when it does not fit.
struct Box {
  char type[4];
  std::span<const uint8_t> payload;
  size_t total = 0;
};
bool read_box(std::span<const uint8_t> b, size_t pos, Box* box) {
  if (pos + 8 > b.size()) return false;
  uint64_t size = be32(b.data() + pos);
  size_t header = 8;
  if (size == 1) {
    if (pos + 16 > b.size()) return false;
    size = uint64_t(be32(b.data() + pos + 8)) << 32 | be32(b.data() + pos + 12);
    header = 16;
  } else if (size == 0) {
    size = b.size() - pos;  // to the end of the enclosing data
  }
  if (size < header || size > b.size() - pos) return false;
  std::memcpy(box->type, b.data() + pos + 4, 4);
  box->payload = b.subspan(pos + header, size_t(size) - header);
  box->total = size_t(size);
  return true;
}

// Calls f(box) for each box directly inside `b`; stops early when f returns false.
template <class F>
void for_each_box(std::span<const uint8_t> b, F f) {
  Box box;
  for (size_t pos = 0; read_box(b, pos, &box); pos += box.total)
    if (!f(box)) return;
}

// The boxes of a HEIF file's `meta` that irbis reads itself before libheif decodes anything (item
// types, references, properties, locations). Fields stay empty where the boxes cannot be followed:
// libheif then reports the problem, if any.
struct HeifMeta {
  struct Ref {
    char type[4];
    uint32_t from = 0;
    std::vector<uint32_t> to;
  };
  struct Location {
    int method = 0;  // 0: file offsets, 1: inside idat, else not read here
    uint64_t base = 0;
    std::vector<std::pair<uint64_t, uint64_t>> extents;  // offset, length (0: to the end)
  };
  uint32_t primary = 0;
  // infe item types ("" before version 2), every entry of an id: which of repeated entries libheif
  // keeps is its own business, so an id is taken as an image only when every entry says so.
  std::map<uint32_t, std::vector<std::string>> types;
  std::vector<Ref> refs;
  std::vector<Box> props;                           // ipco children; ipma indexes them from 1
  std::map<uint32_t, std::vector<size_t>> item_props;  // first ipma entry per item, in order
  std::map<uint32_t, Location> locations;
  std::span<const uint8_t> idat;  // as libheif reads it (below)
};

// An unsigned big-endian field of 0 to 8 bytes at *pos, advancing it; false past the end of p.
bool read_be(std::span<const uint8_t> p, size_t* pos, int bytes, uint64_t* out) {
  if (*pos + size_t(bytes) > p.size()) return false;
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | p[*pos + size_t(i)];
  *pos += size_t(bytes);
  *out = v;
  return true;
}

void read_iloc(std::span<const uint8_t> p, HeifMeta* m) {
  if (p.size() < 6) return;
  const int version = p[0];
  if (version > 2) return;
  const int offset_size = p[4] >> 4, length_size = p[4] & 15, base_size = p[5] >> 4;
  const int index_size = version >= 1 ? p[5] & 15 : 0;
  for (int s : {offset_size, length_size, base_size, index_size})
    if (s != 0 && s != 4 && s != 8) return;
  size_t pos = 6;
  uint64_t count = 0;
  if (!read_be(p, &pos, version < 2 ? 2 : 4, &count)) return;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t id = 0, method = 0, unused = 0, extents = 0;
    if (!read_be(p, &pos, version < 2 ? 2 : 4, &id)) return;
    if (version >= 1 && !read_be(p, &pos, 2, &method)) return;
    HeifMeta::Location loc;
    loc.method = int(method & 15);
    if (!read_be(p, &pos, 2, &unused) || !read_be(p, &pos, base_size, &loc.base) || !read_be(p, &pos, 2, &extents))
      return;
    // Extents of zero-width fields take no bytes and are all (0, 0), the whole source: keep one, so a
    // small file cannot make this loop run 65535 times per item.
    if (index_size + offset_size + length_size == 0) extents = std::min<uint64_t>(extents, 1);
    for (uint64_t e = 0; e < extents; ++e) {
      uint64_t offset = 0, length = 0;
      if (!read_be(p, &pos, index_size, &unused) || !read_be(p, &pos, offset_size, &offset) ||
          !read_be(p, &pos, length_size, &length))
        return;
      loc.extents.emplace_back(offset, length);
    }
    m->locations.emplace(uint32_t(id), std::move(loc));
  }
}

void read_ipma(std::span<const uint8_t> p, HeifMeta* m) {
  if (p.size() < 8) return;
  const int version = p[0];
  const bool wide_index = p[3] & 1;
  const uint32_t entries = be32(p.data() + 4);
  size_t pos = 8;
  for (uint32_t e = 0; e < entries; ++e) {
    const size_t id_size = version < 1 ? 2 : 4;
    if (pos + id_size + 1 > p.size()) return;
    const uint32_t item = version < 1 ? be16(p.data() + pos) : be32(p.data() + pos);
    pos += id_size;
    const size_t n = p[pos++];
    const size_t step = wide_index ? 2 : 1;
    if (pos + n * step > p.size()) return;
    std::vector<size_t> indices;
    for (size_t k = 0; k < n; ++k, pos += step)
      indices.push_back(wide_index ? (be16(p.data() + pos) & 0x7fff) : (p[pos] & 0x7f));
    m->item_props.emplace(item, std::move(indices));
  }
}

HeifMeta read_heif_meta(std::span<const uint8_t> b) {
  HeifMeta m;
  std::span<const uint8_t> meta;
  for_each_box(b, [&](const Box& x) {
    if (std::memcmp(x.type, "meta", 4) != 0) return true;
    if (x.payload.size() >= 4) meta = x.payload.subspan(4);  // full box: version and flags
    return false;
  });
  for_each_box(meta, [&](const Box& x) {
    const std::span<const uint8_t> p = x.payload;
    if (std::memcmp(x.type, "pitm", 4) == 0 && p.size() >= 6) {
      m.primary = p[0] == 0 ? be16(p.data() + 4) : (p.size() >= 8 ? be32(p.data() + 4) : 0);
    } else if (std::memcmp(x.type, "iinf", 4) == 0 && p.size() >= 6) {
      const size_t header = p[0] == 0 ? 6 : 8;  // version, flags, entry count (16 or 32 bits)
      if (p.size() < header) return true;
      for_each_box(p.subspan(header), [&](const Box& e) {
        if (std::memcmp(e.type, "infe", 4) != 0 || e.payload.size() < 4) return true;
        const int version = e.payload[0];
        const std::span<const uint8_t> q = e.payload.subspan(4);
        if (version >= 2) {
          const size_t id_size = version == 2 ? 2 : 4;
          if (q.size() >= id_size + 6)
            m.types[id_size == 2 ? be16(q.data()) : be32(q.data())].emplace_back(
                reinterpret_cast<const char*>(q.data()) + id_size + 2, 4);
        } else if (q.size() >= 2) {
          m.types[be16(q.data())].emplace_back();
        }
        return true;
      });
    } else if (std::memcmp(x.type, "iref", 4) == 0 && p.size() >= 4) {
      // Read as libheif 1.15 reads it: each reference's box header is parsed but its size is not
      // used; the from id, count and to ids follow one after another to the end of the iref (F13: a
      // dimg box whose size was wrong hid F12's non-image reference from a reader that skips by size).
      const size_t id_size = p[0] == 0 ? 2 : 4;
      size_t pos = 4;
      uint64_t size = 0, id = 0, count = 0;
      while (pos + 8 <= p.size()) {
        HeifMeta::Ref ref;
        read_be(p, &pos, 4, &size);
        std::memcpy(ref.type, p.data() + pos, 4);
        pos += 4;
        if (size == 1) pos += 8;                                 // a 64-bit size follows
        if (std::memcmp(ref.type, "uuid", 4) == 0) pos += 16;  // an extended type follows
        if (!read_be(p, &pos, int(id_size), &id) || !read_be(p, &pos, 2, &count)) break;
        ref.from = uint32_t(id);
        for (uint64_t k = 0; k < count && read_be(p, &pos, int(id_size), &id); ++k) ref.to.push_back(uint32_t(id));
        m.refs.push_back(std::move(ref));
      }
    } else if (std::memcmp(x.type, "iprp", 4) == 0) {
      for_each_box(p, [&](const Box& y) {
        if (std::memcmp(y.type, "ipco", 4) == 0)
          for_each_box(y.payload, [&](const Box& z) {
            m.props.push_back(z);
            return true;
          });
        if (std::memcmp(y.type, "ipma", 4) == 0) read_ipma(y.payload, &m);
        return true;
      });
    } else if (std::memcmp(x.type, "iloc", 4) == 0) {
      read_iloc(p, &m);
    } else if (std::memcmp(x.type, "idat", 4) == 0) {
      // libheif 1.15 reads an idat item from the box's payload but bounds the read by the box's
      // whole size, so up to a header's length past its end (the F11 input's grid data does).
      const size_t at = size_t(p.data() - b.data());
      m.idat = b.subspan(at, std::min(b.size() - at, x.total));
    }
    return true;
  });
  return m;
}

uint64_t area(uint64_t w, uint64_t h) { return h != 0 && w > UINT64_MAX / h ? UINT64_MAX : w * h; }

bool is_image_type(const std::string& type) {
  return type == "hvc1" || type == "av01" || type == "grid" || type == "iden" || type == "iovl";
}

// libheif 1.15 asserts (aborting the process) when a derived image (grid, iden, iovl) refers through
// `dimg` to an item that is not an image it knows (F12: an `iden` item over an item of type
// 'hvc2'). Every dimg reference must name an item whose infe type is one libheif decodes as an
// image; "" when they all do (or the boxes cannot be followed: libheif reports that), else why not.
std::string heif_bad_derivation(const HeifMeta& m) {
  const auto is_image = [&](uint32_t id) {
    const auto t = m.types.find(id);
    return t != m.types.end() && std::all_of(t->second.begin(), t->second.end(), is_image_type);
  };
  for (const HeifMeta::Ref& ref : m.refs) {
    if (std::memcmp(ref.type, "dimg", 4) != 0) continue;
    for (uint32_t to : ref.to)
      if (!is_image(to))
        return "item " + std::to_string(ref.from) + " is derived from item " + std::to_string(to) + ", which is not an image";
  }
  return "";
}

// The primary item's irot/imir, in the order ipma lists them, as an Exif orientation; 1 when the
// file has none or its boxes cannot be followed (libheif then reports the problem, if any).
int heif_primary_orientation(const HeifMeta& m) {
  const auto it = m.item_props.find(m.primary);
  if (it == m.item_props.end()) return 1;
  int turns = 0, axis = -1;
  for (size_t index : it->second) {
    if (index == 0 || index > m.props.size()) continue;
    const Box& p = m.props[index - 1];
    if (p.payload.empty()) continue;
    if (std::memcmp(p.type, "irot", 4) == 0) turns = p.payload[0] & 3;
    if (std::memcmp(p.type, "imir", 4) == 0) axis = p.payload[0] & 1;
  }
  return orientation_from_irot_imir(turns, axis);
}

// An item's bytes (its extents, in order), at most `limit` of them; fewer when an extent lies
// outside the file or idat, or the construction method is one libheif 1.15 does not read.
std::vector<uint8_t> heif_item_data(const HeifMeta& m, std::span<const uint8_t> b, uint32_t item, size_t limit) {
  std::vector<uint8_t> out;
  const auto it = m.locations.find(item);
  if (it == m.locations.end() || (it->second.method != 0 && it->second.method != 1)) return out;
  const std::span<const uint8_t> source = it->second.method == 0 ? b : m.idat;
  for (const auto& [offset, length] : it->second.extents) {
    const uint64_t start = it->second.base + offset;
    if (start < it->second.base || start > source.size()) return out;
    const uint64_t avail = source.size() - start;
    const uint64_t n = std::min<uint64_t>({length == 0 ? avail : length, avail, limit - out.size()});
    out.insert(out.end(), source.begin() + long(start), source.begin() + long(start + n));
    if (out.size() >= limit || n < length) return out;
  }
  return out;
}

// The luma size an HEVC sequence parameter set (a NAL unit with its 2-byte header, emulation
// prevention bytes still in) declares: pic_width/height_in_luma_samples, what libde265 allocates
// a frame for. False when the unit is too short or malformed.
bool hevc_sps_size(std::span<const uint8_t> nal, uint64_t* width, uint64_t* height) {
  std::vector<uint8_t> rbsp;  // without the 0x000003 emulation prevention bytes
  for (size_t i = 2; i < nal.size() && rbsp.size() < 256; ++i) {
    if (i >= 4 && nal[i] == 3 && nal[i - 1] == 0 && nal[i - 2] == 0 && rbsp.size() >= 2 && rbsp.back() == 0 &&
        rbsp[rbsp.size() - 2] == 0)
      continue;
    rbsp.push_back(nal[i]);
  }
  size_t bit = 0;
  bool ok = true;
  const auto u = [&](int n) {
    uint64_t v = 0;
    for (int k = 0; k < n; ++k, ++bit) {
      if (bit / 8 >= rbsp.size()) { ok = false; return uint64_t(0); }
      v = v << 1 | ((rbsp[bit / 8] >> (7 - bit % 8)) & 1);
    }
    return v;
  };
  const auto ue = [&] {  // Exp-Golomb
    int zeros = 0;
    while (ok && u(1) == 0)
      if (++zeros > 32) ok = false;
    return ok ? (uint64_t(1) << zeros) - 1 + u(zeros) : uint64_t(0);
  };
  u(4);  // sps_video_parameter_set_id
  const int sub_layers = int(u(3));  // sps_max_sub_layers_minus1
  u(1);
  u(88 + 8);  // general profile, tier, flags and level
  auto present = std::vector<std::pair<bool, bool>>(static_cast<size_t>(sub_layers));
  for (auto& [profile, level] : present) {
    profile = u(1);
    level = u(1);
  }
  if (sub_layers > 0) u(2 * (8 - sub_layers));
  for (const auto& [profile, level] : present) u((profile ? 88 : 0) + (level ? 8 : 0));
  ue();  // sps_seq_parameter_set_id
  if (ue() == 3) u(1);  // chroma_format_idc 4:4:4: separate_colour_plane_flag
  *width = ue();
  *height = ue();
  return ok;
}

// The largest frame area the HEVC parameter sets of an hvc1 item declare: those in its hvcC
// property and those inside its data (libde265 takes an SPS from either); 0 when none is found.
// *budget: how many bytes of item data may still be read; when this item's is larger, returns
// UINT64_MAX with *size empty.
uint64_t hevc_largest_frame(const HeifMeta& m, std::span<const uint8_t> b, uint32_t item, size_t* budget,
                            std::string* size) {
  uint64_t largest = 0;
  const auto consider = [&](std::span<const uint8_t> nal) {
    uint64_t w = 0, h = 0;
    if (nal.size() < 3 || ((nal[0] >> 1) & 63) != 33 || !hevc_sps_size(nal, &w, &h) || area(w, h) <= largest) return;
    largest = area(w, h);
    *size = std::to_string(w) + "x" + std::to_string(h);
  };
  int length_size = 4;  // of the NAL unit lengths in the item's data (hvcC lengthSizeMinusOne + 1)
  if (const auto it = m.item_props.find(item); it != m.item_props.end()) {
    for (size_t index : it->second) {
      if (index == 0 || index > m.props.size() || std::memcmp(m.props[index - 1].type, "hvcC", 4) != 0) continue;
      const std::span<const uint8_t> c = m.props[index - 1].payload;
      if (c.size() < 23) continue;
      length_size = (c[21] & 3) + 1;
      size_t pos = 23;
      for (int a = 0; a < c[22] && pos + 3 <= c.size(); ++a) {
        const uint32_t count = be16(c.data() + pos + 1);
        pos += 3;
        for (uint32_t k = 0; k < count && pos + 2 <= c.size(); ++k) {
          const size_t len = be16(c.data() + pos);
          if (pos + 2 + len > c.size()) break;
          consider(c.subspan(pos + 2, len));
          pos += 2 + len;
        }
      }
    }
  }
  // The item's data: length-prefixed NAL units (libheif gives it to libde265 after the hvcC ones).
  if (length_size != 4 && length_size != 2) return largest;  // 1 and 3 byte lengths: never written by encoders
  const std::vector<uint8_t> data = heif_item_data(m, b, item, *budget + 1);
  if (data.size() > *budget) {
    size->clear();
    return UINT64_MAX;
  }
  *budget -= data.size();
  for (size_t pos = 0; pos < data.size();) {
    uint64_t len = 0;
    if (!read_be(data, &pos, length_size, &len) || len > data.size() - pos) break;
    consider(std::span<const uint8_t>(data).subspan(pos, size_t(len)));
    pos += size_t(len);
  }
  return largest;
}

// The largest frame an AV1 sequence header (the OBU's payload) allows, max_frame_width_minus_1 + 1 by
// max_frame_height_minus_1 + 1 (AV1 5.5.1): dav1d and libaom refuse any frame of the sequence over it.
// Read bit for bit as dav1d 1.0 reads it; false when the payload ends first (dav1d refuses it too).
bool av1_sequence_max_frame(std::span<const uint8_t> p, uint64_t* width, uint64_t* height) {
  size_t bit = 0;
  bool ok = true;
  const auto f = [&](int n) {
    uint64_t v = 0;
    for (int k = 0; k < n; ++k, ++bit) {
      if (bit / 8 >= p.size()) { ok = false; return uint64_t(0); }
      v = v << 1 | ((p[bit / 8] >> (7 - bit % 8)) & 1);
    }
    return v;
  };
  const auto uvlc = [&] {  // as dav1d and libaom: at most 32 leading zeros, then no value bits
    int zeros = 0;
    while (ok && f(1) == 0)
      if (++zeros == 32) return;
    f(zeros);
  };
  f(3);  // seq_profile
  f(1);  // still_picture
  if (f(1)) {  // reduced_still_picture_header
    f(5);      // seq_level_idx[0]
  } else {
    bool decoder_model = false;
    int delay_bits = 0;
    if (f(1)) {  // timing_info_present_flag
      f(64);     // num_units_in_display_tick, time_scale
      if (f(1)) uvlc();  // equal_picture_interval: num_ticks_per_picture_minus_1
      decoder_model = f(1);
      if (decoder_model) {
        delay_bits = int(f(5)) + 1;  // buffer_delay_length_minus_1
        f(32 + 5 + 5);               // num_units_in_decoding_tick, two more lengths
      }
    }
    const bool display_delay = f(1);  // initial_display_delay_present_flag
    const int points = int(f(5)) + 1;
    for (int i = 0; i < points && ok; ++i) {
      f(12);                   // operating_point_idc
      if (f(5) > 7) f(1);      // seq_level_idx, seq_tier
      if (decoder_model && f(1)) f(2 * delay_bits + 1);
      if (display_delay && f(1)) f(4);
    }
  }
  const int width_bits = int(f(4)) + 1, height_bits = int(f(4)) + 1;
  *width = f(width_bits) + 1;
  *height = f(height_bits) + 1;
  return ok;
}

// The largest frame the AV1 sequence headers of an av01 item allow: libheif 1.15 hands dav1d (or
// libaom) its first av1C property's configOBUs followed by the item's data as one buffer, and the
// decoder takes a sequence header from anywhere in it; each av1C's OBUs are also read alone. 0 when
// there is none (nothing can be decoded then). *budget and *size as for hevc_largest_frame.
uint64_t av1_largest_frame(const HeifMeta& m, std::span<const uint8_t> b, uint32_t item, size_t* budget,
                           std::string* size) {
  uint64_t largest = 0;
  // Each OBU in turn, as dav1d 1.0's dav1d_parse_obus walks a buffer: header byte, optional extension
  // byte, a LEB128 size (up to 8 bytes) or, without one, the rest of the buffer.
  const auto walk = [&](std::span<const uint8_t> d) {
    for (size_t pos = 0; pos < d.size();) {
      const uint8_t header = d[pos];
      const bool extension = header & 4, has_size = header & 2;
      size_t at = pos + 1 + (extension ? 1 : 0);
      if (at > d.size()) return;
      uint64_t len = d.size() - at;
      if (has_size) {
        len = 0;
        bool more = true;
        for (int i = 0; more && i < 8; ++i, ++at) {
          if (at >= d.size()) return;
          len |= uint64_t(d[at] & 0x7f) << (7 * i);
          more = d[at] & 0x80;
        }
        if (more || len > d.size() - at) return;  // dav1d stops on this buffer there
      }
      uint64_t w = 0, h = 0;
      if (((header >> 3) & 15) == 1 && av1_sequence_max_frame(d.subspan(at, size_t(len)), &w, &h) &&
          area(w, h) > largest) {
        largest = area(w, h);
        *size = std::to_string(w) + "x" + std::to_string(h);
      }
      pos = at + size_t(len);
    }
  };
  std::vector<uint8_t> stream;  // the first av1C's configOBUs, then the item's data
  bool first = true;
  if (const auto it = m.item_props.find(item); it != m.item_props.end()) {
    for (size_t index : it->second) {
      if (index == 0 || index > m.props.size() || std::memcmp(m.props[index - 1].type, "av1C", 4) != 0) continue;
      const std::span<const uint8_t> c = m.props[index - 1].payload;
      if (c.size() < 4) continue;
      walk(c.subspan(4));
      if (first) stream.assign(c.begin() + 4, c.end());
      first = false;
    }
  }
  const std::vector<uint8_t> data = heif_item_data(m, b, item, *budget + 1);
  if (data.size() > *budget) {
    size->clear();
    return UINT64_MAX;
  }
  *budget -= data.size();
  stream.insert(stream.end(), data.begin(), data.end());
  walk(stream);
  return largest;
}

// F11 by area: libheif's size limit is per side, so an image declaring a very elongated size (32 x
// 16384) still let a grid canvas, an overlay canvas or an HEVC frame of its long side squared be
// allocated and decoded before the decoded size was found to differ. Every grid and overlay canvas
// and every HEVC or AV1 frame of the primary image, of what it is derived from, of its thumbnails and
// of its alpha (what heif_decode_image can decode for it) must fit in `bound` pixels; "" when they do,
// else which item does not.
std::string heif_canvas_over_area(const HeifMeta& m, std::span<const uint8_t> b, uint64_t bound) {
  // The items reachable from the primary: what it is derived from (dimg), its thumbnails (thmb) and
  // auxiliary images (auxl), and theirs, found breadth first.
  std::map<uint32_t, std::vector<uint32_t>> next_of;
  for (const HeifMeta::Ref& ref : m.refs) {
    if (std::memcmp(ref.type, "dimg", 4) == 0) {
      std::vector<uint32_t>& next = next_of[ref.from];
      next.insert(next.end(), ref.to.begin(), ref.to.end());
    } else if (std::memcmp(ref.type, "thmb", 4) == 0 || std::memcmp(ref.type, "auxl", 4) == 0) {
      for (uint32_t to : ref.to) next_of[to].push_back(ref.from);
    }
  }
  std::set<uint32_t> reached = {m.primary};
  std::vector<uint32_t> queue = {m.primary};
  for (size_t q = 0; q < queue.size(); ++q)
    if (const auto it = next_of.find(queue[q]); it != next_of.end())
      for (uint32_t next : it->second)
        if (reached.insert(next).second) queue.push_back(next);
  // The HEVC and AV1 items' data is read for in-band parameter sets and sequence headers; each byte
  // of a real file belongs to one item, so more than twice the file's size means extents that repeat
  // the file (unbounded work).
  size_t data_budget = 2 * b.size() + (64 << 10);
  std::vector<std::pair<uint32_t, std::string>> typed;  // each reached item with each type it is given
  for (uint32_t item : reached)
    if (const auto t = m.types.find(item); t != m.types.end())
      for (const std::string& type : t->second) typed.emplace_back(item, type);
  for (const auto& [item, type] : typed) {
    uint64_t w = 0, h = 0;
    std::string what;
    if (type == "grid" || type == "iovl") {
      const std::vector<uint8_t> d = heif_item_data(m, b, item, 32);
      const bool grid = type == "grid";
      if (d.size() < 2 || (!grid && d[0] != 0)) continue;  // libheif refuses other overlay versions
      const int field = d[1] & 1 ? 4 : 2;
      size_t pos = grid ? 4 : 10;  // grid: version, flags, rows, columns; iovl: version, flags, 4 colours
      if (!read_be(d, &pos, field, &w) || !read_be(d, &pos, field, &h)) continue;
      what = grid ? "grid canvas" : "overlay canvas";
    } else if (type == "hvc1" || type == "av01") {
      // The frame size the coded stream declares: what the decoder allocates, whatever ispe says.
      const bool hevc = type == "hvc1";
      std::string size;
      if ((hevc ? hevc_largest_frame(m, b, item, &data_budget, &size)
                : av1_largest_frame(m, b, item, &data_budget, &size)) <= bound)
        continue;
      if (size.empty()) return "the items' data repeats the file more than twice";
      return "item " + std::to_string(item) + (hevc ? "'s HEVC frame is " : "'s AV1 frames are up to ") + size + " pixels";
    } else {
      continue;
    }
    if (area(w, h) > bound)
      return "item " + std::to_string(item) + "'s " + what + " is " + std::to_string(w) + "x" + std::to_string(h) + " pixels";
  }
  return "";
}

struct HeifDeleter {
  void operator()(heif_context* c) const { IRBIS_LAZY_FN(libheif(), heif_context_free)(c); }
  void operator()(heif_image_handle* h) const { IRBIS_LAZY_FN(libheif(), heif_image_handle_release)(h); }
  void operator()(heif_image* i) const { IRBIS_LAZY_FN(libheif(), heif_image_release)(i); }
  void operator()(heif_decoding_options* o) const { IRBIS_LAZY_FN(libheif(), heif_decoding_options_free)(o); }
};
template <class T>
using HeifPtr = std::unique_ptr<T, HeifDeleter>;

[[noreturn]] void heif_fail(std::span<const uint8_t> b, const char* what, const heif_error& err) {
  std::string msg = err.message ? err.message : "unknown libheif error";
  if (const std::string said = take_library_messages(); !said.empty()) msg += " (dav1d: " + said + ")";
  if (isobmff_is_truncated(b)) throw DecodeError(std::string("truncated HEIF data (") + what + ")");
  if (err.code == heif_error_Unsupported_feature || err.code == heif_error_Unsupported_filetype) {
    throw DecodeError(std::string("unsupported format: HEIF (") + msg + ")");
  }
  // libheif reports a file cut short as "end of data" / "Invalid input ... data".
  if (err.subcode == heif_suberror_End_of_data) throw DecodeError(std::string("truncated HEIF data (") + what + ")");
  throw DecodeError(std::string("corrupt HEIF data: ") + what + ": " + msg);
}

struct OpenHeif {
  HeifPtr<heif_context> ctx;
  HeifPtr<heif_image_handle> primary;
};

OpenHeif open_heif(std::span<const uint8_t> b) {
  OpenHeif h;
  h.ctx.reset(IRBIS_LAZY_FN(libheif(), heif_context_alloc)());
  if (!h.ctx) throw DecodeError("cannot initialise the HEIF decoder");
  // libheif only reads the boxes here; nothing is decoded yet.
  heif_error err = IRBIS_LAZY_FN(libheif(), heif_context_read_from_memory_without_copy)(h.ctx.get(), b.data(), b.size(), nullptr);
  if (err.code != heif_error_Ok) heif_fail(b, "cannot read the file structure", err);
  heif_image_handle* handle = nullptr;
  err = IRBIS_LAZY_FN(libheif(), heif_context_get_primary_image_handle)(h.ctx.get(), &handle);
  if (err.code != heif_error_Ok) heif_fail(b, "no primary image", err);
  h.primary.reset(handle);
  return h;
}

// The size as stored (ispe), before irot: libheif's handle size is after the transformations.
ImageHeader stored_header(heif_image_handle* h, ImageFormat fmt) {
  int w = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_ispe_width)(h), hh = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_ispe_height)(h);
  if (w <= 0 || hh <= 0) {
    w = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_width)(h);
    hh = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_height)(h);
  }
  if (w <= 0 || hh <= 0) throw DecodeError("malformed HEIF header: zero width or height");
  return {fmt, w, hh};
}

void check_pixels(int w, int h, uint64_t max_pixels) {
  if (uint64_t(w) * uint64_t(h) > max_pixels) {
    throw DecodeError("image declares " + std::to_string(w) + "x" + std::to_string(h) +
                      " pixels, over the limit of " + std::to_string(max_pixels));
  }
}

}  // namespace

int orientation_from_irot_imir(int quarter_turns_ccw, int mirror_axis) {
  // Applies the operations to a small asymmetric image and finds the Exif orientation that gives
  // the same result: no hand-written table to get wrong.
  cv::Mat probe(2, 3, CV_8U);
  for (int i = 0; i < 6; ++i) probe.data[i] = uint8_t(i);
  cv::Mat t = probe.clone();
  for (int k = 0; k < (quarter_turns_ccw & 3); ++k) cv::rotate(t, t, cv::ROTATE_90_COUNTERCLOCKWISE);
  if (mirror_axis == 0) cv::flip(t, t, 0);  // top and bottom exchanged
  if (mirror_axis == 1) cv::flip(t, t, 1);  // left and right exchanged
  for (int o = 1; o <= 8; ++o) {
    cv::Mat c = probe.clone();
    apply_orientation(c, o);
    if (c.size() == t.size() && cv::countNonZero(c != t) == 0) return o;
  }
  return 1;
}

ImageFormat sniff_isobmff(std::span<const uint8_t> b) {
  if (b.size() < 16 || std::memcmp(b.data() + 4, "ftyp", 4) != 0) return ImageFormat::unknown;
  const size_t box = std::min<size_t>(be32(b.data()), b.size());
  if (box < 16) return ImageFormat::unknown;
  const uint8_t* major = b.data() + 8;
  if (brand_is(major, "crx ")) return ImageFormat::raw;  // Canon CR3
  bool heif = false, avif = false;
  const auto classify = [&](const uint8_t* p) {
    if (brand_is(p, "avif") || brand_is(p, "avis")) avif = true;
    for (const char* h : {"heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1"})
      if (brand_is(p, h)) heif = true;
  };
  // The major brand decides when it names a codec; mif1 (generic HEIF) defers to the compatible list.
  if (brand_is(major, "avif") || brand_is(major, "avis")) return ImageFormat::avif;
  classify(major);
  for (size_t pos = 16; pos + 4 <= box; pos += 4) classify(b.data() + pos);
  if (avif && !(brand_is(major, "heic") || brand_is(major, "heix"))) return ImageFormat::avif;
  return heif ? ImageFormat::heif : ImageFormat::unknown;
}

bool isobmff_is_truncated(std::span<const uint8_t> b) {
  size_t pos = 0;
  while (pos + 8 <= b.size()) {
    uint64_t size = be32(b.data() + pos);
    if (size == 1) {
      if (pos + 16 > b.size()) return true;
      size = uint64_t(be32(b.data() + pos + 8)) << 32 | be32(b.data() + pos + 12);
    } else if (size == 0) {
      return false;  // the last box runs to the end of the file
    }
    if (size < 8) return false;  // malformed, not truncated
    if (size > b.size() - pos) return true;
    pos += size_t(size);
  }
  return pos < b.size();  // a box header cut in the middle
}

ImageHeader heif_header(std::span<const uint8_t> b) {
  OpenHeif h = open_heif(b);
  return stored_header(h.primary.get(), ImageFormat::heif);
}

StoredImage decode_heif(std::span<const uint8_t> b, const DecodeOptions& opts) {
  const HeifMeta meta = read_heif_meta(b);
  if (const std::string why = heif_bad_derivation(meta); !why.empty()) throw DecodeError("malformed HEIF: " + why);
  OpenHeif h = open_heif(b);
  StoredImage out;
  out.header = stored_header(h.primary.get(), ImageFormat::heif);
  check_pixels(out.header.width, out.header.height, opts.max_pixels);
  // The declared size with the HEVC coding padding (frames are coded in blocks of up to 64 px), at
  // least 1 MP (a small image's grid tiles, coded frames of a few blocks): what any canvas or frame
  // decoded for it may cover (F11 by area; the side limit below cannot bound an elongated size).
  const auto padded = [](int side) { return uint64_t(side + 63) / 64 * 64 + 64; };
  const uint64_t area_bound = std::max<uint64_t>(1 << 20, padded(out.header.width) * padded(out.header.height));
  if (const std::string why = heif_canvas_over_area(meta, b, area_bound); !why.empty())
    throw DecodeError("malformed HEIF: " + why + ", more than the " + std::to_string(out.header.width) + "x" +
                      std::to_string(out.header.height) + " the file declares");
  out.orientation = heif_primary_orientation(meta);
  out.oriented = true;  // libheif applies irot/imir (and clap) when decoding

  // The smallest thumbnail whose displayed sides are both >= min_side, else the primary image.
  heif_image_handle* source = h.primary.get();
  HeifPtr<heif_image_handle> thumb;
  if (opts.min_side > 0) {
    const int n = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_number_of_thumbnails)(source);
    std::vector<heif_item_id> ids(size_t(std::max(n, 0)));
    if (n > 0) IRBIS_LAZY_FN(libheif(), heif_image_handle_get_list_of_thumbnail_IDs)(source, ids.data(), n);
    int64_t best = int64_t(IRBIS_LAZY_FN(libheif(), heif_image_handle_get_width)(source)) * IRBIS_LAZY_FN(libheif(), heif_image_handle_get_height)(source);
    for (heif_item_id id : ids) {
      heif_image_handle* t = nullptr;
      if (IRBIS_LAZY_FN(libheif(), heif_image_handle_get_thumbnail)(source, id, &t).code != heif_error_Ok) continue;
      HeifPtr<heif_image_handle> candidate(t);
      const int tw = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_width)(t), th = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_height)(t);
      if (tw >= opts.min_side && th >= opts.min_side && int64_t(tw) * th < best) {
        best = int64_t(tw) * th;
        thumb = std::move(candidate);
      }
    }
    if (thumb) source = thumb.get();
  }
  // A grid's or an overlay's canvas, and the HEVC frame itself, are allocated at the sizes their own
  // boxes and bitstream declare, which can differ from the ispe the pixel limit was checked on (F11:
  // a 756-byte HEIC whose grid item's ispe says 32x24 and whose grid box says 8192x6144 took 1.1 s
  // and ~200 MB, a 4000x3000 frame under an ispe of 32x24 0.77 s, before the size was found to
  // disagree). libheif checks canvases and coded frames against its side limit before decoding:
  // it is set to the declared long side plus the HEVC coding padding (frames are coded in blocks of
  // up to 64 px, a 32x24 image as 64x64), never below 1024 (a small image's grid tiles); an image
  // of another size than declared is refused below anyway.
  const ImageHeader declared = stored_header(source, ImageFormat::heif);
  const int long_side = std::max(declared.width, declared.height);
  const int side_limit = std::max(1024, (long_side + 63) / 64 * 64 + 64);
  IRBIS_LAZY_FN(libheif(), heif_context_set_maximum_image_size_limit)(h.ctx.get(), side_limit);
  const bool alpha = IRBIS_LAZY_FN(libheif(), heif_image_handle_has_alpha_channel)(source);
  HeifPtr<heif_decoding_options> dopts(IRBIS_LAZY_FN(libheif(), heif_decoding_options_alloc)());
  heif_image* raw = nullptr;
  take_library_messages();  // only this decode's messages name its error
  const heif_error err =
      IRBIS_LAZY_FN(libheif(), heif_decode_image)(source, &raw, heif_colorspace_RGB, alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB,
                        dopts.get());
  if (err.code != heif_error_Ok) heif_fail(b, "cannot decode the image", err);
  HeifPtr<heif_image> img(raw);
  const int w = IRBIS_LAZY_FN(libheif(), heif_image_get_width)(raw, heif_channel_interleaved), hh = IRBIS_LAZY_FN(libheif(), heif_image_get_height)(raw, heif_channel_interleaved);
  int stride = 0;
  const uint8_t* data = IRBIS_LAZY_FN(libheif(), heif_image_get_plane_readonly)(raw, heif_channel_interleaved, &stride);
  if (!data || w <= 0 || hh <= 0) throw DecodeError("corrupt HEIF data: the decoder returned no pixels");
  // libheif decodes the coded frame at the size its bitstream declares, which need not be the
  // size the container declares (ispe, checked against max_pixels above): F8, found by fuzz_decode.
  const int want_w = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_width)(source),
            want_h = IRBIS_LAZY_FN(libheif(), heif_image_handle_get_height)(source);
  if (w != want_w || hh != want_h)
    throw DecodeError("corrupt HEIF data: the decoded image is " + std::to_string(w) + "x" + std::to_string(hh) +
                      " pixels, the file declares " + std::to_string(want_w) + "x" + std::to_string(want_h));
  const cv::Mat view(hh, w, alpha ? CV_8UC4 : CV_8UC3, const_cast<uint8_t*>(data), size_t(stride));
  if (alpha) {
    cv::Mat bgra;
    cv::cvtColor(view, bgra, cv::COLOR_RGBA2BGRA);
    out.rgb = opencv_to_rgb8(bgra);
  } else {
    out.rgb = view.clone();
  }
  return out;
}

}  // namespace irbis::io

#include "io/library_imports.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

namespace irbis::io {

namespace {

// The loaded object's PT_GNU_RELRO range (made read-only after relocation), to write a slot there.
struct Relro {
  uintptr_t begin = 0, end = 0;
};
Relro relro_of(ElfW(Addr) base) {
  struct Search {
    ElfW(Addr) base;
    Relro found;
  } s{base, {}};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        auto* s = static_cast<Search*>(data);
        if (info->dlpi_addr != s->base) return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i)
          if (info->dlpi_phdr[i].p_type == PT_GNU_RELRO) {
            s->found.begin = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
            s->found.end = s->found.begin + info->dlpi_phdr[i].p_memsz;
          }
        return 1;
      },
      &s);
  return s.found;
}

bool write_slot(void** slot, void* value, const Relro& relro) {
  const auto at = reinterpret_cast<uintptr_t>(slot);
  if (at < relro.begin || at + sizeof(void*) > relro.end) {
    *slot = value;  // an ordinary writable GOT (lazy binding)
    return true;
  }
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  void* first = reinterpret_cast<void*>(at & ~(page - 1));
  if (mprotect(first, page, PROT_READ | PROT_WRITE) != 0) return false;
  *slot = value;
  mprotect(first, page, PROT_READ);
  return true;
}

}  // namespace

void* redirect_import(void* dl_handle, const char* symbol, void* replacement) {
#if defined(__x86_64__) || defined(__aarch64__)
  link_map* lm = nullptr;
  if (!dl_handle || dlinfo(dl_handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm || !lm->l_ld) return nullptr;
  // What the library's slot holds once bound: the definition in its own dependencies, or one that
  // comes first in the global scope (a sanitizer's interceptor of printf, another interposer).
  void* const own = dlsym(dl_handle, symbol);
  void* const global = dlsym(RTLD_DEFAULT, symbol);
  if (!own && !global) return nullptr;
  const ElfW(Addr) base = lm->l_addr;
  // glibc relocates the dynamic section's addresses in place on these targets; be safe either way.
  const auto address = [base](ElfW(Addr) p) { return p < base ? p + base : p; };
  const ElfW(Sym)* symtab = nullptr;
  const char* strtab = nullptr;
  const ElfW(Rela)* tables[2] = {nullptr, nullptr};  // DT_JMPREL (calls), DT_RELA (GLOB_DAT: -fno-plt)
  size_t sizes[2] = {0, 0};
  bool plt_rela = true;
  for (const ElfW(Dyn)* d = lm->l_ld; d->d_tag != DT_NULL; ++d) {
    switch (d->d_tag) {
      case DT_SYMTAB: symtab = reinterpret_cast<const ElfW(Sym)*>(address(d->d_un.d_ptr)); break;
      case DT_STRTAB: strtab = reinterpret_cast<const char*>(address(d->d_un.d_ptr)); break;
      case DT_JMPREL: tables[0] = reinterpret_cast<const ElfW(Rela)*>(address(d->d_un.d_ptr)); break;
      case DT_PLTRELSZ: sizes[0] = d->d_un.d_val; break;
      case DT_PLTREL: plt_rela = d->d_un.d_val == DT_RELA; break;
      case DT_RELA: tables[1] = reinterpret_cast<const ElfW(Rela)*>(address(d->d_un.d_ptr)); break;
      case DT_RELASZ: sizes[1] = d->d_un.d_val; break;
      default: break;
    }
  }
  if (!symtab || !strtab || !plt_rela) return nullptr;
  const Relro relro = relro_of(base);
  void* previous = nullptr;
  for (int t = 0; t < 2; ++t) {
    if (!tables[t]) continue;
    for (size_t i = 0; i < sizes[t] / sizeof(ElfW(Rela)); ++i) {
      const ElfW(Rela)& r = tables[t][i];
      const size_t sym = ELF64_R_SYM(r.r_info);  // both targets above are 64-bit
      if (sym == 0 || std::strcmp(strtab + symtab[sym].st_name, symbol) != 0) continue;
      void** slot = reinterpret_cast<void**>(base + r.r_offset);
      // A slot bound to the function (BIND_NOW, or called once already), or one still pointing at
      // the library's own lazy-binding stub (a library loaded at start-up by a program linked
      // without -z now, as the fuzz targets are): anything else is not a slot we understand.
      void* const bound = *slot;
      if (!bound) continue;
      Dl_info where{};
      const bool lazy_stub = dladdr(bound, &where) && where.dli_fbase == reinterpret_cast<void*>(base);
      if (bound != own && bound != global && !lazy_stub) continue;
      if (write_slot(slot, replacement, relro)) previous = lazy_stub ? (own ? own : global) : bound;
    }
  }
  return previous;
#else
  (void)dl_handle, (void)symbol, (void)replacement;
  return nullptr;
#endif
}

}  // namespace irbis::io

// Typed exceptions. Every message names the file (when there is one) and the reason.
#pragma once
#include <stdexcept>
#include <string>

namespace irbis {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Bad arguments or options given by the user (CLI exit code 1).
class UsageError : public Error { using Error::Error; };
// A file could not be read (permissions, vanished, I/O error).
class IoError : public Error { using Error::Error; };
// Bytes that are not a supported image, or a corrupt/truncated/oversized one.
class DecodeError : public Error { using Error::Error; };
// The collection on disk is missing, corrupt or from an incompatible version.
class StoreError : public Error { using Error::Error; };
// A path given where a collection goes is not one (a photo folder, an image file, nothing): a
// mistake in the arguments, so the CLI exits as for a usage error.
class NotACollectionError : public StoreError { using StoreError::StoreError; };
// A model file, card or registry problem.
class ModelError : public Error { using Error::Error; };
// An analysis or data the request needs is not available for this collection (not computed yet,
// e.g. no embeddings of the model; too few images; an image without an embedding). The server
// answers 404 for it everywhere; the CLI exits as for a usage error.
class NotAvailableError : public Error { using Error::Error; };

}  // namespace irbis

// Throws ExcType naming the failed condition, FAISS-style:
//   IRBIS_THROW_IF_NOT(w > 0, DecodeError, "image has zero width");
#define IRBIS_THROW_IF_NOT(cond, ExcType, msg)                                          \
  do {                                                                                  \
    if (!(cond)) throw ::irbis::ExcType(std::string(msg) + " [failed: " #cond "]");     \
  } while (0)

// A sample collection built from real photographs that Debian packages ship (opencv-doc,
// python3-skimage), plus altered copies with known ground truth. Used by the README's first
// command, the end-to-end tests and the threshold calibration (docs/calibration.md).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace irbis {

struct SampleParams {
  // Folders searched for the source photographs (the first that holds a listed name wins).
  std::vector<std::filesystem::path> source_dirs = {"/usr/share/doc/opencv-doc/examples/data",
                                                    "/usr/lib/python3/dist-packages/skimage/data"};
  // Distinct extra images cut from each photograph (non-overlapping tiles, scaled up).
  int tiles_per_photo = 0;
};

// What one generated file is, relative to its original. expect is:
//   "original" — a distinct photo; "exact" — byte copy; "near" — a light edit that perceptual
//   hashes should catch (re-encode, resize, brightness, slight crop or blur, PNG copy, caption);
//   "cnn" — a heavier edit that hashes miss but an embedding should catch (flip, rotation, crop).
struct SampleFile {
  std::string path;       // relative to the output folder
  std::string original;   // relative path of the original it derives from ("" for originals)
  std::string transform;  // e.g. "jpeg-q40", "resize-50", "flip"
  std::string expect;
};

// Writes photos/ and edits/ under out_dir and truth.csv (path,original,transform,expect).
// Throws IoError when no source photograph is found (names the packages to install).
std::vector<SampleFile> make_sample_collection(const std::filesystem::path& out_dir, const SampleParams& params = {});

}  // namespace irbis

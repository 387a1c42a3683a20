// Runs the geometric verifier (PairVerifier, images decoded as `dupes` decodes them) on a list of
// labelled pairs and prints each decision with its evidence, for calibrating the verifier's rule
// (docs/calibration.md, "Verifier: moved content"), and each pair's first test (inliers and matches
// of the better orientation, the fewer of the two images' keypoints: the last three columns;
// docs/calibration.md, "The first test"). Prints
// ms per verified pair to stderr.
// usage: verify_pairs_bench PAIRS.tsv [--work-side PX] [--detect-mirrored] [--first-test SIDE KEYPOINTS MIN_INLIERS]
//                           [--first-test-orb LEVELS SCALE FAST_THRESHOLD] > out.tsv
//        (PAIRS.tsv: path_a <TAB> path_b <TAB> label; --detect-mirrored: VerifyParams::detect_mirrored_keypoints;
//        --first-test: VerifyParams::first_test_*, SIDE 0 = off, MIN_INLIERS 0 = figures only, nothing refused;
//        --first-test-orb: first_test_levels, first_test_scale_factor, first_test_fast_threshold)
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "irbis/image.h"
#include "irbis/scan.h"
#include "irbis/verify.h"

using namespace irbis;

int main(int argc, char** argv) {
  VerifyParams vp;
  bool usage = argc < 2;
  for (int i = 2; i < argc && !usage; ++i) {
    const std::string arg = argv[i];
    if (arg == "--work-side" && i + 1 < argc) vp.work_side = std::stoi(argv[++i]);
    else if (arg == "--detect-mirrored") vp.detect_mirrored_keypoints = true;
    else if (arg == "--first-test" && i + 3 < argc) {
      vp.first_test_side = std::stoi(argv[++i]);
      vp.first_test_keypoints = std::stoi(argv[++i]);
      vp.first_test_min_inliers = std::stoi(argv[++i]);
      vp.first_test_min_refused = 0;  // every pair's figures: no switch-off by refusal share
    } else if (arg == "--first-test-orb" && i + 3 < argc) {
      vp.first_test_levels = std::stoi(argv[++i]);
      vp.first_test_scale_factor = std::stof(argv[++i]);
      vp.first_test_fast_threshold = std::stoi(argv[++i]);
    }
    else usage = true;
  }
  if (usage) {
    std::fprintf(stderr,
                 "usage: %s PAIRS.tsv [--work-side PX] [--detect-mirrored] [--first-test SIDE KEYPOINTS MIN_INLIERS] "
                 "[--first-test-orb LEVELS SCALE FAST_THRESHOLD]\n",
                 argv[0]);
    return 2;
  }
  std::ifstream in(argv[1]);
  std::vector<std::string> paths;
  std::map<std::string, uint32_t> id;
  struct Row { uint32_t a, b; std::string label; };
  std::vector<Row> rows;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::string a, b, label;
    std::getline(ls, a, '\t');
    std::getline(ls, b, '\t');
    std::getline(ls, label);
    for (const auto* p : {&a, &b})
      if (!id.count(*p)) id.emplace(*p, uint32_t(paths.size())), paths.push_back(*p);
    rows.push_back({id[a], id[b], label});
  }
  const auto loader = [&](int side, bool gray) {  // as `dupes` loads: the first test's images grey
    return [&paths, side, gray](uint32_t i) {
      DecodeOptions o;
      o.min_side = side;
      const auto bytes = read_file_bytes(paths[i], uint64_t(1) << 31);
      return gray ? decode_gray(bytes, o) : decode_image(bytes, o).rgb;
    };
  };
  PairVerifier v(loader(vp.work_side, false), vp, 4096);
  v.set_first_test_loader(loader(vp.first_test_side, true));
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  for (const Row& r : rows) pairs.emplace_back(r.a, r.b);
  const auto t0 = std::chrono::steady_clock::now();
  v.verify_all(pairs);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const Row& r : rows) {
    const GeometricMatch g = v.verify(r.a, r.b);
    const PairVerifier::FirstTest t = v.first_test(r.a, r.b);
    std::cout << r.label << '\t' << paths[r.a] << '\t' << paths[r.b] << '\t' << g.same << '\t' << g.reason << '\t'
              << g.inliers << '\t' << g.matches << '\t' << g.mirrored << '\t' << g.agreement << '\t' << g.overlap << '\t'
              << g.scale << '\t' << g.moved_tiles << '\t' << g.changed_tiles << '\t' << g.changed_one_side << '\t'
              << t.inliers << '\t' << t.matches << '\t' << t.keypoints << '\n';
  }
  const PairVerifier::Stats st = v.stats();
  std::fprintf(stderr, "work side %d: pairs %zu seconds %.2f ms_per_pair %.1f; CPU: %zu images %.1f ms each, %zu pairs %.1f ms each\n",
               vp.work_side, v.pairs_verified(), secs, 1000.0 * secs / double(std::max<size_t>(1, v.pairs_verified())),
               st.images, 1e3 * st.image_cpu_seconds / double(std::max<size_t>(1, st.images)), st.pairs,
               1e3 * st.pair_cpu_seconds / double(std::max<size_t>(1, st.pairs)));
  if (vp.first_test_side > 0)
    std::fprintf(stderr, "first test at %d px, %d keypoints, >= %d inliers: %zu images %.2f ms CPU each, %zu pairs %.2f ms CPU each, %zu refused\n",
                 vp.first_test_side, vp.first_test_keypoints, vp.first_test_min_inliers, st.first_test_images,
                 1e3 * st.first_test_image_cpu_seconds / double(std::max<size_t>(1, st.first_test_images)), st.first_test_pairs,
                 1e3 * st.first_test_pair_cpu_seconds / double(std::max<size_t>(1, st.first_test_pairs)), st.first_test_refused);
  return 0;
}

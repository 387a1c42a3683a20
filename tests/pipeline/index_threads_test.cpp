// The threading scheme of `irbis index` with a CNN (docs/models.md, "Threads"): one worker per
// core, each running its own single-threaded network. No OpenMP team larger than the workers'
// is ever started, so none is left with an idle thread that spins (a 2-thread team started while
// the first network was built and warmed on the calling thread cost ~1 s CPU per index at load 9),
// and the calling thread's OpenMP and OpenCV thread counts are as they were afterwards (Python
// runs k-means or t-SNE on that thread after an index).
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <omp.h>
#include <opencv2/core.hpp>

#include "irbis/collection.h"
#include "irbis/collection_layout.h"
#include "irbis/model.h"
#include "irbis/pipeline.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace irbis;

namespace {

TEST(IndexThreads, OnednnIndexStartsNoTeamAndRestoresTheCallersThreadCounts) {
  test::TempDir tmp("index_threads");
  const fs::path pics = tmp.path() / "pics";
  fs::create_directories(pics);
  for (int i = 0; i < 6; ++i)
    test::write_file(pics / (std::to_string(i) + ".jpg"), test::encode(test::synthetic_photo(640, 480, i), ".jpg"));
  const InferenceOptions saved_inference = default_inference();
  set_default_inference({InferenceEngine::onednn, Precision::automatic});
  const int omp_before = omp_get_max_threads();
  const int cv_before = cv::getNumThreads();
  const int threads_before = test::process_threads();
  auto coll = Collection::open_or_create(tmp.path() / "c.irbis");
  IndexParams p;
  p.roots = {pics.string()};
  p.model = kDefaultModel;
  const IndexReport rep = index_collection(*coll, p);
  set_default_inference(saved_inference);
  EXPECT_EQ(rep.ok, 6);
  EXPECT_EQ(coll->meta(model_inference_key(kDefaultModel)).rfind("onednn/", 0), 0u)
      << coll->meta(model_inference_key(kDefaultModel));
  // Workers are joined when index returns; an OpenMP pool thread would still be here.
  EXPECT_EQ(test::process_threads(), threads_before) << "threads left behind by the index (an OpenMP team's pool?)";
  EXPECT_EQ(omp_get_max_threads(), omp_before);
  EXPECT_EQ(cv::getNumThreads(), cv_before);
}

}  // namespace

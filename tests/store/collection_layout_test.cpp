// The collection's on-disk names and meta keys, defined once in collection_layout.h.
#include <gtest/gtest.h>

#include "irbis/collection_layout.h"

using namespace irbis;

TEST(CollectionLayout, FeatureNamesAndKeysPerModel) {
  EXPECT_EQ(embedding_feature("mobilenet_v2_mid"), "emb.mobilenet_v2_mid");
  EXPECT_EQ(blocks_feature("mobilenet_v2_mid"), "blocks.mobilenet_v2_mid");
  EXPECT_EQ(model_weights_key("m"), "model.m.onnx_sha256");
  EXPECT_EQ(feature_file("/c.irbis", "emb.m"), std::filesystem::path("/c.irbis/features/emb.m.f"));
}

TEST(CollectionLayout, ModelsAreReadBackFromFeatureNames) {
  EXPECT_EQ(feature_model(embedding_feature("a")), "a");
  EXPECT_EQ(feature_model(blocks_feature("b.v2")), "b.v2");
  EXPECT_EQ(feature_model(kHashesFeature), "");
  EXPECT_EQ(feature_model(kColorFeature), "");
  const std::vector<FeatureSpec> specs = {{kHashesFeature, "u64", 3},
                                          {embedding_feature("a"), "f32", 4},
                                          {blocks_feature("a"), "f16", 8},
                                          {blocks_feature("only_blocks"), "f16", 8},
                                          {embedding_feature("b"), "f32", 4}};
  EXPECT_EQ(embedding_models(specs), (std::vector<std::string>{"a", "b"}));
}
